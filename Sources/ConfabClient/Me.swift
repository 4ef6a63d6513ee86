/// Who is calling (`GET /api/v1/me`): the user, their tenant, their token usage and the key used.
public struct Me: Codable, Sendable, Equatable {
    public var user: Account
    public var tenant: Tenant?
    public var usage: TokenUsage
    /// The API key of this request, when it was made with one (not with an access token).
    public var key: APIKey?
}

/// A registered user.
public struct Account: Codable, Sendable, Equatable {
    public var id: String
    public var username: String
    public var email: String?
    public var tenantID: String
    /// `owner` or `member` of the tenant.
    public var role: String
    public var createdAt: Double

    enum CodingKeys: String, CodingKey {
        case id, username, email, role
        case tenantID = "tenant_id"
        case createdAt = "created_at"
    }
}

/// A group of users; each registration makes one, with the user as its owner.
public struct Tenant: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var ownerID: String
    public var createdAt: Double

    enum CodingKeys: String, CodingKey {
        case id, name
        case ownerID = "owner_id"
        case createdAt = "created_at"
    }
}
