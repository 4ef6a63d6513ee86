import Synchronization

/// Watches a streaming reply for its first-token, idle and total deadlines. The stream calls
/// `tick()` on every piece; one sleeping watcher per turn wakes only when a deadline is due.
final class Deadlines: Sendable {
    private let start = ContinuousClock.now
    /// Nanoseconds from `start` to the last piece; -1 before the first.
    private let lastTick = Atomic<Int64>(-1)
    private let settings: TurnSettings

    init(_ settings: TurnSettings) { self.settings = settings }

    func tick() {
        let elapsed = (ContinuousClock.now - start).components
        lastTick.store(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000, ordering: .relaxed)
    }

    /// How long since the last piece (or the start, before the first one).
    var silence: Duration {
        let last = lastTick.load(ordering: .relaxed)
        return ContinuousClock.now - (last < 0 ? start : start + .nanoseconds(last))
    }

    /// Returns the name of the deadline that passed; throws CancellationError when cancelled first.
    func watch() async throws -> String {
        let total = start + settings.totalTimeout
        while true {
            let last = lastTick.load(ordering: .relaxed)
            let (due, name) = last < 0
                ? (start + settings.firstTokenTimeout, "first_token")
                : (start + .nanoseconds(last) + settings.idleTimeout, "idle")
            let (deadline, which) = due < total ? (due, name) : (total, "total")
            if ContinuousClock.now >= deadline {
                // A token may have arrived while we slept: only an unchanged clock means expiry.
                if lastTick.load(ordering: .relaxed) == last { return which }
                continue
            }
            try await Task.sleep(until: deadline, clock: .continuous)
        }
    }
}

extension Duration {
    /// Whole milliseconds, for logs and metrics.
    public var milliseconds: Int64 {
        components.seconds * 1000 + components.attoseconds / 1_000_000_000_000_000
    }

    var nanoseconds: Int64 {
        components.seconds * 1_000_000_000 + components.attoseconds / 1_000_000_000
    }
}
