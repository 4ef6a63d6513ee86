import AsyncHTTPClient
import NIOCore

extension ConfabClient {
    /// The HTTP client of every `ConfabClient` not given another: `HTTPClient.shared`'s settings,
    /// except that a connection that cannot be made fails the request at once. By default the
    /// pool would try again and again until the request's deadline (30 seconds for a server that
    /// is down); here ``RetryPolicy`` decides what to retry, and a command line says "cannot
    /// reach" in milliseconds. Process-wide and never shut down, like `HTTPClient.shared`.
    public static let sharedHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration.singletonConfiguration
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()
}
