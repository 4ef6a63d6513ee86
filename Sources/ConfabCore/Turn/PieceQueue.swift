import Synchronization

/// What a model call's child task hands the turn's task: pieces in order, then the end, or the
/// error that stopped the call (a deadline, a shutdown, the client's stop). One consumer, which
/// takes every piece waiting in one wake-up, so a turn that fell behind catches up at once.
/// Written for this one use rather than an `AsyncThrowingStream`, whose generic storage looked
/// up type metadata on every piece (docs/PERFORMANCE.md).
final class PieceQueue: Sendable {
    private struct State {
        var waiting: [Piece] = []
        var finished = false
        var failure: (any Error)?
        var consumer: UnsafeContinuation<Void, Never>?

        mutating func takeConsumer() -> UnsafeContinuation<Void, Never>? {
            defer { consumer = nil }
            return consumer
        }
    }

    private let state = Mutex(State())

    /// Adds a piece; ignored once finished.
    func yield(_ piece: Piece) {
        let consumer = state.withLock { state -> UnsafeContinuation<Void, Never>? in
            guard !state.finished else { return nil }
            state.waiting.append(piece)
            return state.takeConsumer()
        }
        consumer?.resume()
    }

    /// Ends the queue: the consumer takes what is waiting, then the end (or `error`). The first
    /// call wins.
    func finish(throwing error: (any Error)? = nil) {
        let consumer = state.withLock { state -> UnsafeContinuation<Void, Never>? in
            guard !state.finished else { return nil }
            state.finished = true
            state.failure = error
            return state.takeConsumer()
        }
        consumer?.resume()
    }

    /// Every piece waiting, in order, waiting for one if need be; empty once the queue has ended.
    /// Throws the error it was finished with, or `CancellationError` when the task is cancelled.
    func next() async throws -> [Piece] {
        // A cancelled turn ends even while the model keeps it busy (the handler below is only
        // installed to wait); what is already waiting is still handed over first.
        if Task.isCancelled { finish(throwing: CancellationError()) }
        while true {
            let taken = state.withLock { state -> Result<[Piece], any Error>? in
                if !state.waiting.isEmpty {
                    defer { state.waiting = [] }
                    return .success(state.waiting)
                }
                guard state.finished else { return nil }
                return state.failure.map { .failure($0) } ?? .success([])
            }
            if let taken { return try taken.get() }
            await withTaskCancellationHandler {
                await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
                    let ready = state.withLock { state -> Bool in
                        guard state.waiting.isEmpty, !state.finished else { return true }
                        state.consumer = continuation
                        return false
                    }
                    if ready { continuation.resume() }
                }
            } onCancel: {
                finish(throwing: CancellationError())
            }
        }
    }
}
