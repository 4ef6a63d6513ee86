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

    /// Serves one socket: `read` reads its messages, starting tasks (its turns) in the group,
    /// while a writer task writes what they send. When `read` returns (the client closed, or
    /// the socket is closing), the tasks still running are cancelled (a turn then ends as the
    /// disconnect policy says) and the writer drains.
    static func serving(_ outbound: WebSocketOutboundWriter,
                        read: (SocketWriter, inout ThrowingTaskGroup<Void, any Error>) async throws -> Void) async throws {
        let writer = SocketWriter()
        try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask { await writer.run(outbound) }
            defer {
                group.cancelAll()
                writer.finish()
            }
            try await read(writer, &group)
        }
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
