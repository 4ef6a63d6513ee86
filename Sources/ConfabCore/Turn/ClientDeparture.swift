import Synchronization

/// Tells a streaming turn that its client has gone, from whatever noticed (the connection's
/// `ConnectionPresenceHandler`, or an inbound-close watcher), so the turn's own task need not
/// be cancelled: no task group of watchers per stream (docs/PERFORMANCE.md).
public final class ClientDeparture: Sendable {
    private let state = Mutex<(left: Bool, watcher: (@Sendable () -> Void)?)>((false, nil))

    public init() {}

    /// The client has gone; the watcher runs once, here.
    public func leave() {
        let watcher = state.withLock { state -> (@Sendable () -> Void)? in
            guard !state.left else { return nil }
            state.left = true
            defer { state.watcher = nil }
            return state.watcher
        }
        watcher?()
    }

    /// What to do when the client goes; at once if it already has.
    func onLeave(_ watcher: @escaping @Sendable () -> Void) {
        let left = state.withLock { state in
            if !state.left { state.watcher = watcher }
            return state.left
        }
        if left { watcher() }
    }
}
