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

    /// Returns the name of the deadline that passed; throws CancellationError when cancelled first.
    /// Meanwhile calls `keepAlive` after each `settings.keepAliveInterval` of silence, so one
    /// timer per turn serves both.
    func watch(keepAlive: () -> Void) async throws -> String {
        let total = start + settings.totalTimeout
        var lastKeepAlive = start
        while true {
            let last = lastTick.load(ordering: .relaxed)
            let lastPiece = last < 0 ? start : start + .nanoseconds(last)
            let (due, name) = last < 0
                ? (start + settings.firstTokenTimeout, "first_token")
                : (lastPiece + settings.idleTimeout, "idle")
            let (deadline, which) = due < total ? (due, name) : (total, "total")
            let now = ContinuousClock.now
            if now >= deadline {
                // A token may have arrived while we slept: only an unchanged clock means expiry.
                if lastTick.load(ordering: .relaxed) == last { return which }
                continue
            }
            let nextKeepAlive = max(lastPiece, lastKeepAlive) + settings.keepAliveInterval
            if now >= nextKeepAlive {
                keepAlive()
                lastKeepAlive = now
                continue
            }
            try await Task.sleep(until: min(deadline, nextKeepAlive), clock: .continuous)
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
