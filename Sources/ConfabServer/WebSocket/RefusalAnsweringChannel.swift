import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import NIOHTTP1

/// Hummingbird's HTTP/1 server with WebSocket upgrades, with `UpgradeRefusalHandler` in each
/// connection's pipeline just before the upgrade handler.
struct RefusalAnsweringChannel: ServerChildChannel {
    let inner: HTTP1WebSocketUpgradeChannel
    let headTimeout: TimeAmount

    func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<HTTP1WebSocketUpgradeChannel.Value> {
        inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
            let upgrade = try channel.pipeline.syncOperations
                .handler(type: NIOTypedHTTPServerUpgradeHandler<HTTP1WebSocketUpgradeChannel.UpgradeResult>.self)
            try channel.pipeline.syncOperations.addHandler(UpgradeRefusalHandler(headTimeout: headTimeout), position: .before(upgrade))
            return value
        }
    }

    func handle(value: HTTP1WebSocketUpgradeChannel.Value, logger: Logger) async {
        await inner.handle(value: value, logger: logger)
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
