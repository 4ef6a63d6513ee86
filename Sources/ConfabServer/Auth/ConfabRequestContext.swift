import Hummingbird
import HummingbirdAuth
import NIOCore

/// Every request's context: Hummingbird's core, who is asking (set by `BearerAuthenticator`;
/// nil for a caller without credentials), and the client's address (login limits).
public struct ConfabRequestContext: AuthRequestContext, RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: Caller?
    private let remoteAddress: SocketAddress?

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        identity = nil
        remoteAddress = source.channel.remoteAddress
    }

    /// The TCP peer's address (a proxy's, behind one: forwarded headers are not trusted).
    public var clientAddress: String { remoteAddress?.ipAddress ?? "unknown" }
}
