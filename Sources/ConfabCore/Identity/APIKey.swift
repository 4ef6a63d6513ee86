/// An API key as stored: never the secret, only its SHA-256 and a prefix to recognise it by.
public struct APIKeyRecord: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    /// The start of the key (`cfk_<id part>`), shown in lists.
    public var prefix: String
    /// SHA-256 of the whole key, hex. A key has 190 bits of entropy, so a fast hash is safe.
    public var hash: String
    public var limits: RateLimits
    public var createdAt: Double

    public init(id: String, name: String, prefix: String, hash: String, limits: RateLimits, createdAt: Double) {
        self.id = id
        self.name = name
        self.prefix = prefix
        self.hash = hash
        self.limits = limits
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, prefix, hash, limits
        case createdAt = "created_at"
    }
}
