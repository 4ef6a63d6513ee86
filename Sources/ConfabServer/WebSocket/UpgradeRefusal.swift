import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1

/// Why a WebSocket upgrade was refused, as the HTTP API would answer the same request.
struct UpgradeRefusal: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: String
}

/// Gives a refused WebSocket upgrade its real answer (401, 403, 429…). Hummingbird answers
/// every upgrade its WebSocket router refuses with a bare `400`; the router's
/// `UpgradeRefusalMiddleware` leaves the reason here, and this handler, which sits where the
/// HTTP response passes on its way out, writes the reason instead of the bare 400.
final class UpgradeRefusalHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private var refusal: UpgradeRefusal?
    private var answered = false

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        context.fireChannelRead(data)
    }

    /// The first write is the answer to the connection's first request (a 101, a 400, or any
    /// HTTP response); later ones (more responses, WebSocket frames) pass untouched.
    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard !answered else { return context.write(data, promise: promise) }
        answered = true
        guard let refusal, case .head(var head) = unwrapOutboundIn(data), head.status == .badRequest else {
            return context.write(data, promise: promise)
        }
        head.status = HTTPResponseStatus(statusCode: refusal.status)
        let body = ByteBuffer(string: refusal.body)
        head.headers.replaceOrAdd(name: "Content-Length", value: String(body.readableBytes))
        head.headers.replaceOrAdd(name: "Content-Type", value: "application/json; charset=utf-8")
        for (name, value) in refusal.headers { head.headers.replaceOrAdd(name: name, value: value) }
        context.write(wrapOutboundOut(.head(head)), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(body))), promise: promise)
    }

    /// Leaves the reason with the handler of `channel`, on its event loop.
    static func leave(_ refusal: UpgradeRefusal, on channel: any Channel) async {
        try? await channel.eventLoop.submit {
            try channel.pipeline.syncOperations.handler(type: UpgradeRefusalHandler.self).refusal = refusal
        }.get()
    }
}

/// The first middleware of the WebSocket router: whatever refuses an upgrade (credentials,
/// limits, the route's own checks, no such route) leaves its answer for `UpgradeRefusalHandler`.
struct UpgradeRefusalMiddleware: RouterMiddleware {
    typealias Context = ConfabRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError = error as? APIError ?? (error as? HTTPResponseError).map {
                APIError(.init(code: $0.status.code), code: "upgrade_refused", "the WebSocket upgrade was refused")
            } ?? APIError(.internalServerError, code: "internal_error", "the WebSocket upgrade failed")
            let headers = apiError.headers.map { ($0.name.rawName, $0.value) }
            await UpgradeRefusalHandler.leave(UpgradeRefusal(status: apiError.status.code, headers: headers,
                                                             body: apiError.body(path: request.uri.path).serialized),
                                              on: context.channel)
            throw error
        }
    }
}

/// Hummingbird's HTTP/1 server with WebSocket upgrades, with `UpgradeRefusalHandler` in each
/// connection's pipeline just before the upgrade handler.
struct RefusalAnsweringChannel: ServerChildChannel {
    let inner: HTTP1WebSocketUpgradeChannel

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1WebSocketUpgradeChannel.Value> {
        inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let upgrade = try channel.pipeline.syncOperations
                .handler(type: NIOTypedHTTPServerUpgradeHandler<HTTP1WebSocketUpgradeChannel.UpgradeResult>.self)
            try channel.pipeline.syncOperations.addHandler(UpgradeRefusalHandler(), position: .before(upgrade))
            return value
        }
    }

    func handle(value: HTTP1WebSocketUpgradeChannel.Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
    }

    /// The server: HTTP routes, and WebSocket routes whose refusals answer as HTTP does.
    static func server(webSocketRouter: Router<ConfabRequestContext>,
                       configuration: HTTP1WebSocketUpgradeChannel.Configuration) -> HTTPServerBuilder {
        let webSocketResponder = webSocketRouter.buildResponder()
        return HTTPServerBuilder { responder in
            RefusalAnsweringChannel(inner: HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: webSocketResponder,
                                                                        configuration: configuration))
        }
    }
}
