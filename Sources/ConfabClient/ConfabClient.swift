import AsyncHTTPClient
import Foundation
import NIOCore

/// A client of Confab's HTTP API: sessions and their history, streamed chats, agents, API keys,
/// the caller's account and the admin clean-up. Requests carry `Authorization: Bearer <apiKey>`
/// (an API key `cfk_…`, an access token, or the admin token for ``deleteUsers(prefix:)``).
///
/// A value type: copies share the underlying `HTTPClient` (by default
/// ``sharedHTTPClient``, which needs no shutdown).
public struct ConfabClient: Sendable {
    /// Where Confab listens, e.g. `http://127.0.0.1:8080`.
    public var baseURL: String
    /// Sent as a bearer token; nil sends no credentials (anonymous, open mode only).
    public var apiKey: String?
    /// How opening a chat stream is retried (connect failures, 503, 429).
    public var retry: RetryPolicy
    /// Longest wait for a whole non-streaming answer.
    public var requestTimeout: TimeAmount
    let http: HTTPClient

    public init(baseURL: String, apiKey: String? = nil, retry: RetryPolicy = RetryPolicy(),
                requestTimeout: TimeAmount = .seconds(30), httpClient: HTTPClient = ConfabClient.sharedHTTPClient) {
        // Trailing slashes would double up with the paths, which all start with one.
        var base = baseURL
        while base.hasSuffix("/") { base.removeLast() }
        self.baseURL = base
        self.apiKey = apiKey
        self.retry = retry
        self.requestTimeout = requestTimeout
        self.http = httpClient
    }

    /// The same client with other credentials (e.g. the admin token), sharing the connection pool.
    public func authenticated(with token: String?) -> ConfabClient {
        var copy = self
        copy.apiKey = token
        return copy
    }
}
