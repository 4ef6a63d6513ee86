import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1

/// Hummingbird's HTTP/1 server with WebSocket upgrades, with `UpgradeRefusalHandler` in each
/// connection's pipeline just before the upgrade handler, and a `ConnectionPresenceHandler` at
/// its front whose presence the connection's task carries.
struct RefusalAnsweringChannel: ServerChildChannel {
    let inner: HTTP1WebSocketUpgradeChannel
    let headTimeout: TimeAmount

    struct Value: ServerChildChannelValue {
        let inner: HTTP1WebSocketUpgradeChannel.Value
        let presence: ConnectionPresence
        var channel: any Channel { inner.channel }
    }

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
        inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let pipeline = channel.pipeline.syncOperations
            let upgrade = try pipeline.handler(type: NIOTypedHTTPServerUpgradeHandler<HTTP1WebSocketUpgradeChannel.UpgradeResult>.self)
            try pipeline.addHandler(UpgradeRefusalHandler(headTimeout: headTimeout), position: .before(upgrade))
            let presence = ConnectionPresenceHandler()
            try pipeline.addHandler(presence, position: .first)
            return Value(inner: value, presence: presence.presence)
        }
    }

    func handle(value: Value, logger: Logger) async {
        await ConnectionPresence.$current.withValue(value.presence) {
            await inner.handle(value: value.inner, logger: logger)
        }
    }

    /// The server: HTTP routes, and WebSocket routes whose refusals answer as HTTP does.
    static func server(webSocketRouter: Router<ConfabRequestContext>,
                       configuration: HTTP1WebSocketUpgradeChannel.Configuration) -> HTTPServerBuilder {
        let webSocketResponder = webSocketRouter.buildResponder()
        let headTimeout = configuration.http1.idleTimeout
        return HTTPServerBuilder { responder in
            RefusalAnsweringChannel(inner: HTTP1WebSocketUpgradeChannel(responder: responder, webSocketResponder: webSocketResponder,
                                                                        configuration: configuration),
                                    headTimeout: headTimeout ?? .seconds(30))
        }
    }
}
