/// Limits on what one user, or one API key, may use; nil means no limit of that kind.
public struct RateLimits: Codable, Sendable, Equatable {
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    public var concurrentStreams: Int?

    public init(requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil, concurrentStreams: Int? = nil) {
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.concurrentStreams = concurrentStreams
    }

    public var isEmpty: Bool { requestsPerMinute == nil && tokensPerMinute == nil && concurrentStreams == nil }

    enum CodingKeys: String, CodingKey {
        case requestsPerMinute = "requests_per_minute"
        case tokensPerMinute = "tokens_per_minute"
        case concurrentStreams = "concurrent_streams"
    }
}

/// Where limits are counted: the user's own meters (the default limits) and, for a request made
/// with an API key that carries limits, the key's.
public struct RateScope: Sendable, Equatable {
    /// `user`, or `key:<key id>`; part of the meters' Redis keys.
    public var name: String
    public var limits: RateLimits

    public init(name: String, limits: RateLimits) {
        self.name = name
        self.limits = limits
    }
}

/// Where one meter stands: which limit, its size, what is left and seconds until it resets.
public struct RateLimitState: Sendable, Equatable {
    public enum Kind: String, Sendable { case requests, tokens, streams }
    public var kind: Kind
    public var limit: Int
    public var remaining: Int
    public var resetSeconds: Int

    public init(kind: Kind, limit: Int, remaining: Int, resetSeconds: Int) {
        self.kind = kind
        self.limit = limit
        self.remaining = remaining
        self.resetSeconds = resetSeconds
    }
}
