import NIOCore

/// A batch of commands written to Redis in one write, answered by one promise by `deadline`.
struct RedisRequest {
    var commands: [RedisCommand]
    var reply: EventLoopPromise<[RedisValue]>
    var deadline: NIODeadline
}

/// Encodes batches with hiredis and matches replies to them in order.
///
/// Redis answers in the order commands arrive, so requests from many callers can share one
/// connection: each batch is a single write, and its replies are the next `count` replies.
///
/// When a batch is not answered by its deadline (a stalled or partitioned Redis keeps the
/// connection open and says nothing), every waiting batch fails with `RedisError.timeout` and the
/// connection is closed: a late reply could no longer be matched to its batch. The slot makes a
/// new connection for the next caller.
final class RedisChannelHandler: ChannelDuplexHandler {
    typealias InboundIn = ByteBuffer
    typealias OutboundIn = RedisRequest
    typealias OutboundOut = ByteBuffer

    private struct Pending {
        var expected: Int
        var replies: [RedisValue]
        var promise: EventLoopPromise<[RedisValue]>
        var deadline: NIODeadline
    }

    private let reader = HiredisCodec.Reader()
    private var pending = CircularBuffer<Pending>()
    /// One timer per connection, armed at the earliest deadline of the waiting batches.
    private var timer: (task: Scheduled<Void>, deadline: NIODeadline)?

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        let request = unwrapOutboundIn(data)
        var buffer = context.channel.allocator.buffer(capacity: 64 * request.commands.count)
        do {
            for command in request.commands { try HiredisCodec.encode(command.arguments, into: &buffer) }
        } catch {
            request.reply.fail(error)
            promise?.fail(error)
            return
        }
        pending.append(Pending(expected: request.commands.count, replies: [], promise: request.reply, deadline: request.deadline))
        // A call may bring a shorter deadline than the ones waiting (a per-call timeout).
        if timer.map({ request.deadline < $0.deadline }) ?? true { armTimer(at: request.deadline, context: context) }
        context.write(wrapOutboundOut(buffer), promise: promise)
    }

    private func armTimer(at deadline: NIODeadline, context: ChannelHandlerContext) {
        timer?.task.cancel()
        let bound = NIOLoopBound((self, context), eventLoop: context.eventLoop)
        let task = context.eventLoop.scheduleTask(deadline: deadline) {
            let (handler, context) = bound.value
            handler.timer = nil
            handler.checkDeadlines(context: context)
        }
        timer = (task, deadline)
    }

    private func checkDeadlines(context: ChannelHandlerContext) {
        guard let earliest = pending.map(\.deadline).min() else { return }
        guard earliest <= .now() else { return armTimer(at: earliest, context: context) }
        failAll(RedisError.timeout("no reply within the command deadline"))
        context.close(promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        reader.feed(unwrapInboundIn(data))
        do {
            while let value = try reader.next() {
                guard !pending.isEmpty else { throw RedisError.protocolError("reply with no request") }
                pending[pending.startIndex].replies.append(value)
                if pending[pending.startIndex].replies.count == pending[pending.startIndex].expected {
                    let done = pending.removeFirst()
                    done.promise.succeed(done.replies)
                }
            }
        } catch {
            // A stream we cannot parse cannot be trusted for later replies either.
            failAll(error)
            context.close(promise: nil)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        timer?.task.cancel()
        timer = nil
        failAll(RedisError.connectionFailed("connection closed"))
        context.fireChannelInactive()
    }

    func errorCaught(context: ChannelHandlerContext, error: Error) {
        failAll(RedisError.connectionFailed("\(error)"))
        context.close(promise: nil)
    }

    private func failAll(_ error: Error) {
        while let next = pending.popFirst() { next.promise.fail(error) }
    }
}
