import NIOCore
import NIOPosix
import Synchronization

/// Watches a streaming reply for its first-token, idle and total deadlines. The stream calls
/// `tick()` on every piece; one event-loop timer per turn wakes only when a deadline or a
/// keep-alive is due. A timer rather than a sleeping task: a task per open stream costs a few
/// kilobytes of async frames and a task switch per wake (docs/PERFORMANCE.md).
final class Deadlines: Sendable {
    private let start = ContinuousClock.now
    /// Nanoseconds from `start` to the last piece; -1 before the first.
    private let lastTick = Atomic<Int64>(-1)
    private let settings: TurnSettings
    private let eventLoop: any EventLoop
    private let timer = Mutex<Timer>(Timer())

    private struct Timer {
        var scheduled: Scheduled<Void>?
        var stopped = false
        var lastKeepAlive: ContinuousClock.Instant?
    }

    init(_ settings: TurnSettings, on eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any()) {
        self.settings = settings
        self.eventLoop = eventLoop
    }

    func tick() {
        let elapsed = (ContinuousClock.now - start).components
        lastTick.store(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000, ordering: .relaxed)
    }

    /// Starts the timer: `keepAlive` after each `settings.keepAliveInterval` of silence, and
    /// `expired` with the deadline's name (first_token, idle, total) once one passes. After
    /// `stop()` no new call starts.
    func start(keepAlive: @escaping @Sendable () -> Void, expired: @escaping @Sendable (String) -> Void) {
        check(keepAlive: keepAlive, expired: expired)
    }

    func stop() {
        timer.withLock { timer in
            timer.stopped = true
            timer.scheduled?.cancel()
            timer.scheduled = nil
        }
    }

    private func check(keepAlive: @escaping @Sendable () -> Void, expired: @escaping @Sendable (String) -> Void) {
        let total = start + settings.totalTimeout
        while true {
            let last = lastTick.load(ordering: .relaxed)
            let lastPiece = last < 0 ? start : start + .nanoseconds(last)
            let (due, name) = last < 0
                ? (start + settings.firstTokenTimeout, "first_token")
                : (lastPiece + settings.idleTimeout, "idle")
            let (deadline, which) = due < total ? (due, name) : (total, "total")
            let now = ContinuousClock.now
            if now >= deadline {
                // A token may have arrived meanwhile: only an unchanged clock means expiry.
                if lastTick.load(ordering: .relaxed) != last { continue }
                guard timer.withLock({ timer in defer { timer.stopped = true }; return !timer.stopped }) else { return }
                return expired(which)
            }
            let nextKeepAlive = max(lastPiece, timer.withLock { $0.lastKeepAlive } ?? start) + settings.keepAliveInterval
            if now >= nextKeepAlive {
                guard timer.withLock({ timer in timer.lastKeepAlive = now; return !timer.stopped }) else { return }
                keepAlive()
                continue
            }
            let wait = TimeAmount.nanoseconds((min(deadline, nextKeepAlive) - now).nanoseconds)
            timer.withLock { timer in
                guard !timer.stopped else { return }
                timer.scheduled = eventLoop.scheduleTask(in: wait) { self.check(keepAlive: keepAlive, expired: expired) }
            }
            return
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
