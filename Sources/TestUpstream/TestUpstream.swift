import Foundation
import NIOCore
import NIOHTTP1
import NIOPosix
import Synchronization

/// A model server that speaks the OpenAI streaming wire format, for tests and benchmarks.
///
/// The reply echoes the last user message, then pads with filler words up to `tokens` pieces.
/// Directives in the user message change one request: `[[tokens=N]]`, `[[first=MS]]`,
/// `[[delay=MS]]` and `[[fault=NAME]]`, where NAME is one of `Fault`'s cases.
///
/// When the request offers tools, the user message can ask for tool calls instead
/// (`[[tool=NAME]]`, `[[tools=parallel]]`, ...: see `ToolCallPlan`); when the last message is a
/// tool result, the reply is `Tool results: ` and the results, so a test can check they arrived.
public struct TestUpstream: Sendable {
    public struct Options: Sendable {
        public var tokens: Int
        public var firstTokenDelayMS: Int
        public var tokenDelayMS: Int
        /// Closes a connection kept after a whole stream once it has been idle this long, as
        /// uvicorn (vLLM) does after 5 s; nil keeps it until the client closes it.
        public var keepAliveMS: Int?

        public init(tokens: Int = 0, firstTokenDelayMS: Int = 0, tokenDelayMS: Int = 0, keepAliveMS: Int? = nil) {
            self.tokens = tokens
            self.firstTokenDelayMS = firstTokenDelayMS
            self.tokenDelayMS = tokenDelayMS
            self.keepAliveMS = keepAliveMS
        }
    }

    /// The ways this upstream can fail on purpose.
    public enum Fault: String, Sendable, CaseIterable {
        case http500, http429, http401
        /// `data: {"error": ...}` after half the reply (OpenAI style).
        case errorEvent = "error-event"
        /// `data: {"object": "error", ...}` after half the reply (vLLM style).
        case vllmError = "vllm-error"
        /// The connection closes after half the reply, with no finish reason and no [DONE].
        case cut
        /// Never sends a first token.
        case hangFirst = "hang-first"
        /// Stops sending after half the reply, keeping the connection open.
        case hangMid = "hang-mid"
    }

    public let stats = Stats()
    let options: Options

    public init(options: Options = Options()) { self.options = options }

    /// Counters the tests read: open streams must fall back to 0 once clients leave.
    public final class Stats: Sendable {
        private let counters = Mutex((active: 0, total: 0, lastRequest: Data()))
        public var active: Int { counters.withLock { $0.active } }
        public var total: Int { counters.withLock { $0.total } }
        /// The body of the last chat request, to check the prompt Confab built.
        public var lastRequest: Data { counters.withLock { $0.lastRequest } }
        func opened(_ body: Data) { counters.withLock { $0.active += 1; $0.total += 1; $0.lastRequest = body } }
        func closed() { counters.withLock { $0.active -= 1 } }
    }

    /// A listening test upstream.
    public struct Server: Sendable {
        let channel: any Channel
        public var port: Int { channel.localAddress?.port ?? 0 }
        /// Completes when the server stops.
        public var closed: EventLoopFuture<Void> { channel.closeFuture }
        public func close() async throws { try await channel.close() }
    }

    /// Starts listening; port 0 picks a free port.
    public func serve(host: String = "127.0.0.1", port: Int = 0,
                      group: any EventLoopGroup = MultiThreadedEventLoopGroup.singleton) async throws -> Server {
        var encoder = HTTPResponseEncoder.Configuration()
        encoder.automaticallySetFramingHeaders = false  // streams end when the connection closes, as the handler says
        let channel = try await ServerBootstrap(group: group)
            .serverChannelOption(.backlog, value: 4096)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    // Without pipelining assistance: NIO's helper stops reading while a response is
                    // open, so a client that closes the connection mid-stream would go unnoticed
                    // until the next write (never, for a hung stream). Real model servers watch
                    // for the disconnect and stop generating; so does this one.
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(
                        withPipeliningAssistance: false, withEncoderConfiguration: encoder)
                    try channel.pipeline.syncOperations.addHandler(UpstreamHandler(upstream: self))
                }
            }
            .bind(host: host, port: port).get()
        return Server(channel: channel)
    }
}
