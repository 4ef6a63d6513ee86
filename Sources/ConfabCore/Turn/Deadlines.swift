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
        var keepAlive: (@Sendable () -> Void)?
        var expired: (@Sendable (String) -> Void)?
    }

    init(_ settings: TurnSettings, on eventLoop: any EventLoop = MultiThreadedEventLoopGroup.singleton.any()) {
        self.settings = settings
        self.eventLoop = eventLoop
    }

    func tick() {
        let elapsed = (ContinuousClock.now - start).components
        // Only the model's task writes: a load and a store, no read-modify-write per token.
        let first = lastTick.load(ordering: .relaxed) < 0
        lastTick.store(elapsed.seconds * 1_000_000_000 + elapsed.attoseconds / 1_000_000_000, ordering: .relaxed)
        // The first piece swaps the first-token deadline for the idle one, which may be due
        // sooner than the timer's wake-up: set the timer again (on the loop, where the timer's
        // own checks run, so the two never race). Later pieces only push the idle deadline
        // back, and the timer re-reads it when it wakes.
        if first { eventLoop.execute { self.rearm() } }
    }

    private func rearm() {
        let callbacks = timer.withLock { timer -> (@Sendable () -> Void, @Sendable (String) -> Void)? in
            guard !timer.stopped, let keepAlive = timer.keepAlive, let expired = timer.expired else { return nil }
            timer.scheduled?.cancel()
            timer.scheduled = nil
            return (keepAlive, expired)
        }
        if let (keepAlive, expired) = callbacks { check(keepAlive: keepAlive, expired: expired) }
    }

    /// Starts the timer: `keepAlive` after each `settings.keepAliveInterval` of silence, and
    /// `expired` with the deadline's name (first_token, idle, total) once one passes. After
    /// `stop()` no new call starts.
    func start(keepAlive: @escaping @Sendable () -> Void, expired: @escaping @Sendable (String) -> Void) {
        timer.withLock { timer in
            timer.keepAlive = keepAlive
            timer.expired = expired
        }
        check(keepAlive: keepAlive, expired: expired)
    }

    func stop() {
        timer.withLock { timer in
            timer.stopped = true
            timer.scheduled?.cancel()
            timer.scheduled = nil
            timer.keepAlive = nil
            timer.expired = nil
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
                timer.scheduled?.cancel()
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
