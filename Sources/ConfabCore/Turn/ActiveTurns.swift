import Foundation
import Synchronization

/// The turns streaming in this process, so a shutdown can end each one cleanly: the stream is
/// stopped, the partial reply stored with reason `shutdown`, and the client told.
public final class ActiveTurns: Sendable {
    private struct State {
        var stops: [UUID: @Sendable () -> Void] = [:]
        var shuttingDown = false
        var drained: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    public init() {}

    public var count: Int { state.withLock { $0.stops.count } }
    public var isShuttingDown: Bool { state.withLock { $0.shuttingDown } }

    /// Registers a turn; returns nil when the service is shutting down and takes no new turns.
    func register(stop: @escaping @Sendable () -> Void) -> UUID? {
        let id = UUID()
        return state.withLock { state in
            guard !state.shuttingDown else { return nil }
            state.stops[id] = stop
            return id
        }
    }

    func remove(_ id: UUID) {
        let waiters: [CheckedContinuation<Void, Never>] = state.withLock { state in
            state.stops[id] = nil
            guard state.stops.isEmpty else { return [] }
            defer { state.drained = [] }
            return state.drained
        }
        waiters.forEach { $0.resume() }
    }

    /// Refuses new turns, stops the running ones, and waits until each has stored its reply.
    public func shutdown() async {
        let stops = state.withLock { state in
            state.shuttingDown = true
            return Array(state.stops.values)
        }
        stops.forEach { $0() }
        await withCheckedContinuation { continuation in
            let done = state.withLock { state in
                if state.stops.isEmpty { return true }
                state.drained.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }
}

/// Why a turn's stream was stopped from outside.
enum TurnStop: Error {
    case shutdown
    /// The client asked (a WebSocket `stop`).
    case byClient
    /// The client's connection closed.
    case clientLeft
}

/// Reaches the model call a turn is waiting on from outside the turn's task: a shutdown or an
/// expired deadline ends it (and any later call of the turn at once), a keep-alive is slipped in
/// while the model is silent.
final class Stopper: Sendable {
    private let state = Mutex<(stopped: Error?, sink: PieceQueue?)>((nil, nil))

    /// The current model call's queue.
    func attach(_ sink: PieceQueue) {
        let stopped = state.withLock { state in
            state.sink = sink
            return state.stopped
        }
        if let stopped { sink.finish(throwing: stopped) }
    }

    func stop(_ error: Error) {
        let sink = state.withLock { state in
            if state.stopped == nil { state.stopped = error }
            return state.sink
        }
        sink?.finish(throwing: error)
    }

    func keepAlive() {
        state.withLock { $0.sink }?.yield(.keepAlive)
    }
}
