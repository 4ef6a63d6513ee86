import Hummingbird
import HummingbirdAuth
import HummingbirdWebSocket
import NIOCore

/// Every request's context: Hummingbird's core, who is asking (set by `BearerAuthenticator`;
/// nil for a caller without credentials), and the client's address (login limits). The same
/// context serves the WebSocket router, so an upgrade is authenticated as any request is.
public struct ConfabRequestContext: AuthRequestContext, RequestContext, WebSocketRequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: Caller?
    /// The connection (a refused WebSocket upgrade leaves its answer in its pipeline).
    let channel: any Channel
    /// Where a WebSocket route leaves its handler for the upgrade.
    public let webSocket: WebSocketHandlerReference<Self>

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        identity = nil
        channel = source.channel
        webSocket = .init()
    }

    /// The TCP peer's address (a proxy's, behind one: forwarded headers are not trusted).
    public var clientAddress: String { channel.remoteAddress?.ipAddress ?? "unknown" }
}
