import Synchronization

/// Message ids seen in the last `keep`, across sockets (a client sends a message again, with
/// the same id, after it reconnects without having seen the ack). Two generations, swapped
/// every `keep`: an id is remembered for one to two `keep`s, each insert costs the same, and
/// memory holds what came in two `keep`s at most (and never more than `capacity` ids a generation).
final class RecentMessageIDs: Sendable {
    private struct Generations {
        var current: Set<String> = []
        var previous: Set<String> = []
        var started: ContinuousClock.Instant
    }

    private let state: Mutex<Generations>
    private let keep: Duration
    private let capacity: Int

    init(keepSeconds: Int, capacity: Int = 100_000) {
        keep = .seconds(keepSeconds)
        self.capacity = capacity
        state = Mutex(Generations(started: .now))
    }

    /// True when the id is new (and remembers it).
    func insert(_ id: String) -> Bool {
        let now = ContinuousClock.now
        return state.withLock { state in
            if now - state.started >= keep || state.current.count >= capacity {
                state.previous = now - state.started >= keep * 2 ? [] : state.current
                state.current = []
                state.started = now
            }
            guard !state.previous.contains(id) else { return false }
            return state.current.insert(id).inserted
        }
    }
}
