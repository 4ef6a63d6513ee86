import NIOCore
import NIOHTTP1

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
    /// Until the first request head is read: Hummingbird's idle timeout starts only after it,
    /// so a connection that sends nothing, or half a head, is closed here.
    private let headTimeout: TimeAmount
    private var waitingForHead: Scheduled<Void>?

    init(headTimeout: TimeAmount) {
        self.headTimeout = headTimeout
    }

    func handlerAdded(context: ChannelHandlerContext) {
        let context = NIOLoopBound(context, eventLoop: context.eventLoop)
        waitingForHead = context.value.eventLoop.scheduleTask(in: headTimeout) { context.value.close(promise: nil) }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        waitingForHead?.cancel()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if let waiting = waitingForHead {
            waiting.cancel()
            waitingForHead = nil
        }
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
