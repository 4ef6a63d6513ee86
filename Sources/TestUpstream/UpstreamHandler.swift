import Foundation
import NIOCore
import NIOHTTP1

/// Answers one connection's requests: the chat completions endpoint (streamed from a
/// `ReplyPlan` on event-loop timers, one write per chunk), the model list and the counters.
final class UpstreamHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let upstream: TestUpstream
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()
    private var streaming = false
    private var next: Scheduled<Void>?
    private var idleClose: Scheduled<Void>?

    init(upstream: TestUpstream) { self.upstream = upstream }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
            idleClose?.cancel()
        case .body(var chunk):
            guard body.readableBytes + chunk.readableBytes <= 16 * 1024 * 1024 else { return context.close(promise: nil) }
            body.writeBuffer(&chunk)
        case .end:
            guard let head else { return }
            respond(to: head, context: context)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        endStream()
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        context.close(promise: nil)
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let stats = upstream.stats
        switch (head.method, head.uri.split(separator: "?").first ?? "") {
        case (.POST, "/v1/chat/completions"): completions(context: context)
        case (.GET, "/v1/models"): send(.ok, #"{"object":"list","data":[{"id":"test-model","object":"model"}]}"#, context: context)
        case (.GET, "/stats"): send(.ok, #"{"active":\#(stats.active),"total":\#(stats.total)}"#, context: context)
        case (.GET, "/requests/last"): send(.ok, String(decoding: stats.lastRequest, as: UTF8.self), context: context)
        default: send(.notFound, #"{"error":{"message":"not found","type":"test_error","code":404}}"#, context: context)
        }
    }

    private func completions(context: ChannelHandlerContext) {
        let bytes = Data(body.readableBytesView)
        guard let chat = try? JSONDecoder().decode(ChatRequest.self, from: bytes) else {
            return send(.badRequest, Self.error("the body is not a chat request", 400), context: context)
        }
        let plan = ReplyPlan(chat: chat, defaults: upstream.options)
        switch plan.fault {
        case .http500: return send(.internalServerError, Self.error("test upstream failure", 500), context: context)
        case .http429: return send(.tooManyRequests, Self.error("rate limited", 429), extra: [("Retry-After", "7")], context: context)
        case .http401: return send(.unauthorized, Self.error("invalid API key", 401), context: context)
        default: break
        }
        guard chat.stream ?? false else { return send(.ok, plan.wholeReply(), context: context) }

        upstream.stats.opened(bytes)
        streaming = true
        let (chunks, hangs) = plan.script()
        // Like real model servers, a whole stream ends with the chunked body's end and the
        // connection stays for the next request; a cut stream is a closed connection.
        let after: Step.After = hangs ? .hang : (plan.fault == .cut || !(head?.isKeepAlive ?? false) ? .close : .end)
        var headers = HTTPHeaders([("Content-Type", "text/event-stream"), ("Cache-Control", "no-cache")])
        if after == .end {
            headers.add(name: "Transfer-Encoding", value: "chunked")  // the encoder sets no framing itself
        } else {
            headers.add(name: "Connection", value: "close")
        }
        context.writeAndFlush(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: .ok, headers: headers))), promise: nil)
        let step = Step(chunks: chunks, after: after)
        schedule(step, from: 0, context: context)
    }

    private struct Step {
        var chunks: [(delayMS: Int, text: String)]
        var after: After

        /// What follows the last chunk: the response's end, a closed connection, or nothing.
        enum After { case end, close, hang }
    }

    /// Writes the chunks from `index` on that are due together, flushes once, and sets a timer
    /// for the next one. The response's end goes out with the last chunks, in the same flush,
    /// so a client that stops reading at `[DONE]` still sees the body end and can reuse the
    /// connection.
    private func schedule(_ step: Step, from index: Int, context: ChannelHandlerContext) {
        guard streaming else { return }
        guard index < step.chunks.count else {
            switch step.after {
            case .end:
                if step.chunks.isEmpty { context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil) }
                endStream()
                if let idle = upstream.options.keepAliveMS {
                    idleClose = context.eventLoop.scheduleTask(in: .milliseconds(Int64(idle))) { [channel = context.channel] in
                        channel.close(promise: nil)
                    }
                }
            case .close: context.close(promise: nil)
            case .hang: break
            }
            return
        }
        let delay = step.chunks[index].delayMS
        guard delay == 0 else {
            let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
            next = context.eventLoop.scheduleTask(in: .milliseconds(Int64(delay))) {
                let (handler, context) = bound.value
                var due = step
                due.chunks[index].delayMS = 0
                handler.schedule(due, from: index, context: context)
            }
            return
        }
        var end = index
        while end < step.chunks.count, end == index || step.chunks[end].delayMS == 0 {
            context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: step.chunks[end].text)))), promise: nil)
            end += 1
        }
        if end == step.chunks.count, step.after == .end { context.write(wrapOutboundOut(.end(nil)), promise: nil) }
        context.flush()
        schedule(step, from: end, context: context)
    }

    private func endStream() {
        guard streaming else { return }
        streaming = false
        next?.cancel()
        upstream.stats.closed()
    }

    private func send(_ status: HTTPResponseStatus, _ json: String, extra: [(String, String)] = [],
                      context: ChannelHandlerContext) {
        var headers = HTTPHeaders([("Content-Type", "application/json"), ("Content-Length", "\(json.utf8.count)")] + extra)
        if !(head?.isKeepAlive ?? false) { headers.add(name: "Connection", value: "close") }
        context.write(wrapOutboundOut(.head(HTTPResponseHead(version: .http1_1, status: status, headers: headers))), promise: nil)
        context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(string: json)))), promise: nil)
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
        if !(head?.isKeepAlive ?? false) { context.close(promise: nil) }
    }

    private static func error(_ message: String, _ code: Int) -> String {
        #"{"error":{"message":"\#(message)","type":"test_error","code":\#(code)}}"#
    }
}
