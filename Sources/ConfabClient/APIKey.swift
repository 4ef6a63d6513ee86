/// An API key as lists show it: never its secret.
public struct APIKey: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// The start of the key (`cfk_…`), to recognise it by.
    public var prefix: String
    public var limits: KeyLimits
    public var createdAt: Double

    enum CodingKeys: String, CodingKey {
        case id, name, prefix, limits
        case createdAt = "created_at"
    }
}

/// A key just made: its fields and, this once, the secret itself.
public struct NewAPIKey: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var prefix: String
    public var limits: KeyLimits
    public var createdAt: Double
    /// The whole key, `cfk_…`; the server keeps only its hash and never shows it again.
    public var key: String

    enum CodingKeys: String, CodingKey {
        case id, name, prefix, limits, key
        case createdAt = "created_at"
    }
}

/// Limits on what one key may use; nil means no limit of that kind.
public struct KeyLimits: Codable, Sendable, Equatable {
    public var requestsPerMinute: Int?
    public var tokensPerMinute: Int?
    public var concurrentStreams: Int?

    public init(requestsPerMinute: Int? = nil, tokensPerMinute: Int? = nil, concurrentStreams: Int? = nil) {
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerMinute = tokensPerMinute
        self.concurrentStreams = concurrentStreams
    }

    enum CodingKeys: String, CodingKey {
        case requestsPerMinute = "requests_per_minute"
        case tokensPerMinute = "tokens_per_minute"
        case concurrentStreams = "concurrent_streams"
    }
}
