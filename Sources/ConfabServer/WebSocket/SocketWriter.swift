import HummingbirdWebSocket
import NIOCore
import NIOWebSocket
import Synchronization

/// One WebSocket's outgoing messages, written in order by one task: the turns running at once
/// on a socket hand their messages here, so messages never interleave and per-message deflate
/// compresses them in the order they are sent. Sending never blocks a turn. A client that stops
/// reading while `backlogLimit` messages wait is disconnected (1008) rather than buffered for;
/// a socket that has gone drops what is still queued.
struct SocketWriter: Sendable {
    /// Messages waiting at most: far more than a reading client ever leaves (a reply's pieces
    /// arrive at the model's pace), far less than memory could hold.
    static let backlogLimit = 8192

    private let queue: AsyncStream<ByteBuffer>
    private let sink: AsyncStream<ByteBuffer>.Continuation
    private let backlog = Backlog()

    init() {
        (queue, sink) = AsyncStream.makeStream()
    }

    func send(_ message: ByteBuffer) {
        guard backlog.add() else { return sink.finish() }
        sink.yield(message)
    }

    func send(_ text: String) {
        send(ByteBuffer(string: text))
    }

    /// No more messages: the writer stops.
    func finish() {
        sink.finish()
    }

    /// Serves one socket: `read` reads its messages, starting tasks (its turns) in the group,
    /// while a writer task writes what they send. When `read` returns (the client closed, or
    /// the socket is closing), the tasks still running are cancelled (a turn then ends as the
    /// disconnect policy says) and the writer stops. Finished tasks are not kept: a socket
    /// may stay open for days.
    static func serving(_ outbound: WebSocketOutboundWriter,
                        read: (SocketWriter, inout ThrowingDiscardingTaskGroup<any Error>) async throws -> Void) async throws {
        let writer = SocketWriter()
        try await withThrowingDiscardingTaskGroup { group in
            group.addTask { await writer.run(outbound) }
            defer {
                group.cancelAll()
                writer.finish()
            }
            try await read(writer, &group)
        }
    }

    /// Writes the queued messages as text frames until `finish`, or until the client falls
    /// `backlogLimit` messages behind (then the socket is closed with 1008).
    private func run(_ outbound: WebSocketOutboundWriter) async {
        var open = true
        for await message in queue where open {
            backlog.remove()
            do {
                try await outbound.write(.custom(WebSocketFrame(fin: true, opcode: .text, data: message)))
            } catch {
                open = false  // the socket has gone: the rest is dropped
            }
        }
        if open, backlog.overflowed {
            try? await outbound.close(.policyViolation, reason: "the client is not reading its messages")
        }
    }
}

/// How many messages wait to be written, and whether too many ever did.
private final class Backlog: Sendable {
    private let state = Mutex<(waiting: Int, overflowed: Bool)>((0, false))

    /// Counts one more; false (for good) once the limit is passed.
    func add() -> Bool {
        state.withLock { state in
            guard !state.overflowed, state.waiting < SocketWriter.backlogLimit else {
                state.overflowed = true
                return false
            }
            state.waiting += 1
            return true
        }
    }

    func remove() {
        state.withLock { $0.waiting -= 1 }
    }

    var overflowed: Bool { state.withLock { $0.overflowed } }
}
