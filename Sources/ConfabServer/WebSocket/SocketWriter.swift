import HummingbirdWebSocket
import NIOCore
import NIOWebSocket

/// One WebSocket's outgoing messages, written in order by one task: the turns running at once
/// on a socket hand their messages here, so messages never interleave and per-message deflate
/// compresses them in the order they are sent. Sending never blocks a turn; a socket that has
/// gone drops what is still queued.
struct SocketWriter: Sendable {
    private let queue: AsyncStream<ByteBuffer>
    private let sink: AsyncStream<ByteBuffer>.Continuation

    init() {
        (queue, sink) = AsyncStream.makeStream()
    }

    func send(_ message: ByteBuffer) {
        sink.yield(message)
    }

    func send(_ text: String) {
        sink.yield(ByteBuffer(string: text))
    }

    /// No more messages: `run` returns once the queue is written.
    func finish() {
        sink.finish()
    }

    /// Writes the queued messages as text frames until `finish`.
    func run(_ outbound: WebSocketOutboundWriter) async {
        var open = true
        for await message in queue where open {
            do {
                try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: message)))
            } catch {
                open = false  // drained but not written, until the socket's turns end
            }
        }
    }
}
