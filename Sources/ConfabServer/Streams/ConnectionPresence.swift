import ConfabCore
import NIOCore
import Synchronization

/// Whether an HTTP/1 connection's client is still there, for the turn streaming on it: a handler
/// at the front of the connection's pipeline sees the input close (the client closed its socket)
/// or the connection end, and tells the turn. Unlike Hummingbird's inbound-close watcher it leaves
/// the request's inbound stream alone, so the connection stays open for the client's next
/// request; that watcher closed it after every streamed response, and a new TCP connection and
/// pipeline per turn, with the watcher's three tasks, were ~9% of a turn's instructions
/// (docs/PERFORMANCE.md).
final class ConnectionPresence: Sendable {
    /// The connection the current task serves; `RefusalAnsweringChannel` sets it for each
    /// connection's task, so the response of any request on it can watch.
    @TaskLocal static var current: ConnectionPresence?

    private let state = Mutex<(gone: Bool, watcher: ClientDeparture?)>((false, nil))

    /// Tells `departure` when the client goes (at once if it has) until `unwatch(departure)`.
    func watch(_ departure: ClientDeparture) {
        let gone = state.withLock { state in
            if !state.gone { state.watcher = departure }
            return state.gone
        }
        if gone { departure.leave() }
    }

    func unwatch(_ departure: ClientDeparture) {
        state.withLock { state in
            if state.watcher === departure { state.watcher = nil }
        }
    }

    fileprivate func clientGone() {
        let watcher = state.withLock { state -> ClientDeparture? in
            state.gone = true
            defer { state.watcher = nil }
            return state.watcher
        }
        watcher?.leave()
    }
}

/// Sees a connection's input close or the connection end, for its `ConnectionPresence`; passes
/// everything on untouched. It sits before the HTTP decoder, so a client that pipelines requests
/// and then half-closes its side ends the turns it has queued as if it had left (Hummingbird's
/// watcher let the first of them finish); HTTP clients that do so are rare.
final class ConnectionPresenceHandler: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = ByteBuffer

    let presence = ConnectionPresence()

    func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
        if case .inputClosed? = event as? ChannelEvent { presence.clientGone() }
        context.fireUserInboundEventTriggered(event)
    }

    func channelInactive(context: ChannelHandlerContext) {
        presence.clientGone()
        context.fireChannelInactive()
    }
}
