import Hummingbird
import HummingbirdAuth
import NIOCore

/// Every request's context: Hummingbird's core, who is asking (set by `BearerAuthenticator`;
/// nil for a caller without credentials), and the client's address (login limits).
public struct ConfabRequestContext: AuthRequestContext, RequestContext {
    public var coreContext: CoreRequestContextStorage
    public var identity: Caller?
    public let clientAddress: String

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        identity = nil
        clientAddress = source.channel.remoteAddress?.ipAddress ?? "unknown"
    }
}
