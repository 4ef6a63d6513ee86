import NIOCore
import NIOHTTP1
import NIOPosix

/// HTTP/1.1 requests, timed: when the first piece of text arrived and when the stream ended.
/// Written on SwiftNIO channel handlers so the load generator costs little. A virtual user keeps
/// its connection between turns (`KeptConnection`), as real clients do.
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

    /// Sends `request` on a connection of its own, closed after the response (`/chat/start`
    /// and other preparations).
    func send(_ request: Request) async throws -> Result {
        let connection = KeptConnection(client: self)
        defer { connection.close() }
        return try await connection.send(request, keepAlive: false)
    }

    fileprivate func connect() async throws -> any Channel {
        try await ClientBootstrap(group: group)
            // Thousands of connections opened at once overflow any listen backlog; the SYNs
            // dropped are sent again after 1, 3, 7, 15 s, so NIO's 10 s default would count a
            // slow start as an error (TTFT shows it instead).
            .connectTimeout(.seconds(60))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHTTPClientHandlers()
                    try channel.pipeline.syncOperations.addHandler(ResponseTimer())
                }
            }
            .connect(host: host, port: port).get()
    }

    fileprivate func write(_ request: Request, keepAlive: Bool, on channel: any Channel) {
        var headers = HTTPHeaders([("Host", "\(host):\(port)")])
        if !keepAlive { headers.add(name: "Connection", value: "close") }
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
    }
}

/// A virtual user's connection, kept from one turn to the next as a browser or an SDK keeps it,
/// and opened again when the server closed it. Used by one task at a time.
final class KeptConnection {
    let client: StreamingClient
    private var channel: (any Channel)?

    init(client: StreamingClient) {
        self.client = client
    }

    /// Sends `request` and times its response; `keepAlive: false` asks the server to close. A
    /// kept connection the server closed meanwhile (nothing at all came back) is replaced and
    /// the request sent again, as HTTP clients do; a reply that had begun is not asked again.
    func send(_ request: StreamingClient.Request, keepAlive: Bool = true) async throws -> StreamingClient.Result {
        guard channel?.isActive == true else { return try await exchange(request, keepAlive: keepAlive) }
        do {
            let result = try await exchange(request, keepAlive: keepAlive)
            guard result.status == 0 else { return result }
        } catch is NothingReceived {}
        return try await exchange(request, keepAlive: keepAlive)
    }

    private func exchange(_ request: StreamingClient.Request, keepAlive: Bool) async throws -> StreamingClient.Result {
        let started = NIODeadline.now()
        if channel?.isActive != true {
            close()
            channel = try await client.connect()
        }
        guard let channel else { throw NothingReceived() }
        let promise = channel.eventLoop.makePromise(of: StreamingClient.Result.self)
        let sender = client
        do {
            try await channel.eventLoop.submit {
                // Closed since `isActive` was read: nothing would ever answer.
                guard channel.isActive else { return promise.fail(NothingReceived()) }
                try channel.pipeline.syncOperations.handler(type: ResponseTimer.self).expect(request, started: started, promise: promise)
                sender.write(request, keepAlive: keepAlive, on: channel)
            }.get()
            let result = try await promise.futureResult.get()
            if result.status == 0 { close() }
            return result
        } catch {
            close()
            throw error
        }
    }

    func close() {
        channel?.close(promise: nil)
        channel = nil
    }

    /// The connection failed before any of the response came back.
    struct NothingReceived: Error {}
}

/// Watches a response go by: its status, the first event with text, `[DONE]`, the end.
private final class ResponseTimer: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart

    private static let done = Array("data: [DONE]".utf8)
    private var started = NIODeadline.now()
    private var request = StreamingClient.Request(method: .GET, uri: "/")
    /// The response awaited; nil between requests.
    private var promise: EventLoopPromise<StreamingClient.Result>?
    private var result = StreamingClient.Result(status: 0, firstText: nil, total: .zero, sawDone: false, body: [])
    private var tail: [UInt8] = []  // the end of the last chunk, for markers split across chunks
    /// The server said it closes the connection after this response.
    private var closes = false

    /// The next response is `request`'s.
    func expect(_ request: StreamingClient.Request, started: NIODeadline, promise: EventLoopPromise<StreamingClient.Result>) {
        self.request = request
        self.started = started
        self.promise = promise
        result = StreamingClient.Result(status: 0, firstText: nil, total: .zero, sawDone: false, body: [])
        tail = []
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            result.status = Int(head.status.code)
            closes = !head.isKeepAlive
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
        promise?.fail(result.status == 0 ? KeptConnection.NothingReceived() : error)
        promise = nil
        context.close(promise: nil)
    }

    private func finish(_ context: ChannelHandlerContext) {
        guard let promise else { return }
        self.promise = nil
        result.total = elapsed()
        if closes { context.close(promise: nil) }
        promise.succeed(result)
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
