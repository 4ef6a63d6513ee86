import Foundation
import Hummingbird
import Synchronization

/// A model server that speaks the OpenAI streaming wire format, for tests and benchmarks.
///
/// The reply echoes the last user message, then pads with filler words up to `tokens` pieces.
/// Directives in the user message change one request: `[[tokens=N]]`, `[[first=MS]]`,
/// `[[delay=MS]]` and `[[fault=NAME]]`, where NAME is one of `Fault`'s cases.
public struct TestUpstream: Sendable {
    public struct Options: Sendable {
        public var tokens: Int
        public var firstTokenDelayMS: Int
        public var tokenDelayMS: Int

        public init(tokens: Int = 0, firstTokenDelayMS: Int = 0, tokenDelayMS: Int = 0) {
            self.tokens = tokens
            self.firstTokenDelayMS = firstTokenDelayMS
            self.tokenDelayMS = tokenDelayMS
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

    public func router() -> Router<BasicRequestContext> {
        let router = Router()
        router.post("/v1/chat/completions") { request, _ in try await self.completions(request) }
        router.get("/v1/models") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(string: #"{"object":"list","data":[{"id":"test-model","object":"model"}]}"#)))
        }
        router.get("/stats") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"],
                     body: .init(byteBuffer: ByteBuffer(string: #"{"active":\#(stats.active),"total":\#(stats.total)}"#)))
        }
        router.get("/requests/last") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(data: stats.lastRequest)))
        }
        return router
    }

    func completions(_ request: Request) async throws -> Response {
        var request = request
        let body = Data(buffer: try await request.collectBody(upTo: 16 * 1024 * 1024))
        let chat = try JSONDecoder().decode(ChatRequest.self, from: body)
        let plan = ReplyPlan(chat: chat, defaults: options)
        switch plan.fault {
        case .http500: return Self.error(.internalServerError, "test upstream failure")
        case .http429: return Self.error(.tooManyRequests, "rate limited", headers: [.retryAfter: "7"])
        case .http401: return Self.error(.unauthorized, "invalid API key")
        default: break
        }
        guard chat.stream ?? false else {
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: .init(byteBuffer: ByteBuffer(string: plan.wholeReply())))
        }
        stats.opened(body)
        let stats = self.stats
        let collected = request
        // Hummingbird closes the connection after an inbound-close-aware response: say so, or a
        // client would reuse it.
        let headers: HTTPFields = [.contentType: "text/event-stream", .cacheControl: "no-cache", .connection: "close"]
        return Response(status: .ok, headers: headers, body: .init { writer in
            defer { stats.closed() }
            _ = try? await collected.body.consumeWithCancellationOnInboundClose { _ in
                try await plan.stream { try await writer.write(ByteBuffer(string: $0)) }
            }
            try? await writer.finish(nil)
        })
    }

    static func error(_ status: HTTPResponse.Status, _ message: String, headers: HTTPFields = [:]) -> Response {
        var headers = headers
        headers[.contentType] = "application/json"
        let body = #"{"error":{"message":"\#(message)","type":"test_error","code":\#(status.code)}}"#
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
    }
}

struct ChatRequest: Decodable {
    struct Message: Decodable { var role: String; var content: String? }
    var model: String?
    var messages: [Message]
    var stream: Bool?
}
