import NIOCore
import NIOHTTP1
import NIOPosix

/// One HTTP/1.1 request on a fresh connection, timed: when the first piece of text arrived and
/// when the stream ended. Written on SwiftNIO channel handlers so the load generator costs little.
struct StreamingClient: Sendable {
    let group: EventLoopGroup
    let host: String
    let port: Int

    struct Request: Sendable {
        var method: HTTPMethod
        var uri: String
        var body: [UInt8] = []
        /// `Authorization: Bearer` with this, when set (a user's API key).
        var bearer: String?
        /// More headers (`X-Confab-Session-Id` for a kept OpenAI completion).
        var headers: [(String, String)] = []
        /// Bytes that mark an event carrying text (Confab's `data: {"content"`, OpenAI's delta content).
        var textMarker: [UInt8] = []
        /// Keep the body (small JSON answers such as `/chat/start`).
        var collect = false
    }

    struct Result: Sendable {
        var status: Int
        var firstText: Duration?
        var total: Duration
        var sawDone: Bool
        var body: [UInt8]
        var ok: Bool { status == 200 }
    }

    func send(_ request: Request) async throws -> Result {
        let started = NIODeadline.now()
        let promise = group.next().makePromise(of: Result.self)
        let channel = try await ClientBootstrap(group: group)
            // Thousands of connections opened at once overflow any listen backlog; the SYNs
            // dropped are sent again after 1, 3, 7, 15 s, so NIO's 10 s default would count a
            // slow start as an error (TTFT shows it instead).
            .connectTimeout(.seconds(60))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(
                        ResponseTimer(started: started, request: request, promise: promise))
                }
            }
            .connect(host: host, port: port).get()
        var headers = HTTPHeaders([("Host", "\(host):\(port)"), ("Connection", "close")])
        if let bearer = request.bearer { headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        headers.add(contentsOf: request.headers)
        if !request.body.isEmpty {
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: "\(request.body.count)")
        }
        channel.write(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: request.method, uri: request.uri, headers: headers)),
                      promise: nil)
        if !request.body.isEmpty {
            channel.write(HTTPClientRequestPart.body(.byteBuffer(ByteBuffer(bytes: request.body))), promise: nil)
        }
        channel.writeAndFlush(HTTPClientRequestPart.end(nil), promise: nil)
        return try await promise.futureResult.get()
    }
}

/// Watches a response go by: its status, the first event with text, `[DONE]`, the end.
private final class ResponseTimer: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private static let done = Array("data: [DONE]".utf8)
    private let started: NIODeadline
    private let request: StreamingClient.Request
    private let promise: EventLoopPromise<StreamingClient.Result>
    private var result = StreamingClient.Result(status: 0, firstText: nil, total: .zero, sawDone: false, body: [])
    private var tail: [UInt8] = []  // the end of the last chunk, for markers split across chunks
    private var finished = false

    init(started: NIODeadline, request: StreamingClient.Request, promise: EventLoopPromise<StreamingClient.Result>) {
        self.started = started
        self.request = request
        self.promise = promise
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            result.status = Int(head.status.code)
        case .body(let buffer):
            let bytes = tail + buffer.readableBytesView
            if request.collect { result.body += buffer.readableBytesView }
            if result.firstText == nil, !request.textMarker.isEmpty, bytes.contains(request.textMarker) {
                result.firstText = elapsed()
            }
            if bytes.contains(Self.done) { result.sawDone = true }
            tail = Array(bytes.suffix(max(request.textMarker.count, Self.done.count)))
        case .end:
            finish(context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(context)
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        guard !finished else { return }
        finished = true
        promise.fail(error)
        context.close(promise: nil)
    }

    private func finish(_ context: ChannelHandlerContext) {
        guard !finished else { return }
        finished = true
        result.total = elapsed()
        promise.succeed(result)
        context.close(promise: nil)
    }

    private func elapsed() -> Duration { .nanoseconds((NIODeadline.now() - started).nanoseconds) }
}

extension Array where Element == UInt8 {
    func contains(_ marker: [UInt8]) -> Bool {
        guard count >= marker.count else { return false }
        return (0...(count - marker.count)).contains { start in
            self[start..<(start + marker.count)].elementsEqual(marker)
        }
    }
}
