/// Where accounts, tenants, API keys, agents and rate meters live. `RedisAccountStore` is the
/// real one. Everything of one user sits under the user's hash tag (next to the user's
/// conversations), everything of one tenant under the tenant's, so each step is atomic in one
/// Redis Cluster slot; the username index and login meters are single keys of their own.
public protocol AccountStore: Sendable {
    /// Claims the username and stores the account (and its new tenant, when given, or joins the
    /// account's tenant); `.usernameTaken` when the name is in use, and nothing is written.
    func register(_ account: Account, passwordHash: String, newTenant: Tenant?) async throws -> Registration
    /// The account with this username (any case) and its password hash.
    func credentials(username: String) async throws -> (account: Account, passwordHash: String)?
    func account(id: String) async throws -> Account?
    func tenant(id: String) async throws -> Tenant?
    /// The ids of a tenant's users.
    func members(tenant: String) async throws -> [String]

    /// The one round trip of an authenticated request: the account still exists, the API key
    /// (when one is used) is not revoked, and the request fits the request meters, which count it.
    func authenticate(_ check: AuthCheck) async throws -> AuthOutcome

    /// Adds a key unless the user has `limit` already (false, nothing written).
    func addKey(user: String, _ key: APIKeyRecord, limit: Int) async throws -> Bool
    func keys(user: String) async throws -> [APIKeyRecord]
    /// Revokes the key: false when the user has no such key.
    func deleteKey(user: String, id: String) async throws -> Bool

    /// Adds an agent unless the user has `limit` already (false, nothing written).
    func addAgent(user: String, _ agent: Agent, limit: Int) async throws -> Bool
    /// Stores an agent's changes.
    func putAgent(user: String, _ agent: Agent) async throws
    func agents(user: String) async throws -> [Agent]
    func agent(user: String, id: String) async throws -> Agent?
    func deleteAgent(user: String, id: String) async throws -> Bool

    /// Counts a login attempt against the username (if given: a registration has none yet) and
    /// the client's address; the counts in this minute, this one included.
    func countLoginAttempt(username: String?, address: String) async throws -> (perUsername: Int, perAddress: Int)
    /// A successful login frees the username's meter (the address's stays).
    func clearLoginAttempts(username: String) async throws

    /// Stores a single-use stream ticket under the SHA-256 of its secret.
    func putTicket(hash: String, _ ticket: StreamTicket, ttlSeconds: Int) async throws
    /// Takes a ticket (at most once): whom it was issued to.
    func takeTicket(hash: String) async throws -> StreamTicket?

    /// Users whose username starts with `prefix` (exactly: no other match), as (username, id).
    func users(withPrefix prefix: String) async throws -> [(username: String, id: String)]
    /// Removes a user and everything of theirs: account, keys, agents, sessions, histories,
    /// meters, and their entries in the username index and their tenant.
    func deleteUser(id: String) async throws -> DeletionCounts?
    /// Removes a tenant and every user in it.
    func deleteTenant(id: String) async throws -> DeletionCounts?
    /// What a tenant holds: users, agents, sessions, messages, tokens.
    func stats(tenant: String) async throws -> TenantStats
}

/// Whom a stream ticket stands for: the user, and the API key it was asked for with (so a
/// stream opened with the ticket is held to that key's limits, and fails if it is revoked).
public struct StreamTicket: Codable, Sendable, Equatable {
    public var user: String
    public var keyID: String?
    public var keyHash: String?

    public init(user: String, keyID: String? = nil, keyHash: String? = nil) {
        self.user = user
        self.keyID = keyID
        self.keyHash = keyHash
    }
}

/// What `register` did.
public enum Registration: Sendable, Equatable {
    case created
    case usernameTaken
}

/// What an authenticated request asks of the store.
public struct AuthCheck: Sendable {
    public var user: String
    /// The API key's id and the SHA-256 of the key presented; nil for an access token.
    public var key: (id: String, hash: String)?
    /// The user's default limits (the key's own are read with it).
    public var userLimits: RateLimits
    public var now: Double
    /// Refuse a request over the request meters (else count it only).
    public var enforceRequests = true
    /// Refuse a request while the token meters are spent (turns; other routes only count).
    public var enforceTokens = true

    public init(user: String, key: (id: String, hash: String)?, userLimits: RateLimits, now: Double) {
        self.user = user
        self.key = key
        self.userLimits = userLimits
        self.now = now
    }
}

/// What the store found for an authenticated request.
public enum AuthOutcome: Sendable {
    /// The account, the key's record (for a key), and the tightest request and token meters.
    case allowed(Account, key: APIKeyRecord?, requests: RateLimitState?, tokens: RateLimitState?)
    /// The account is gone, or the key is revoked or does not match: 401.
    case unknown
    /// Over a limit: 429 with what refused it.
    case limited(RateLimitState)
}

/// What a deletion removed.
public struct DeletionCounts: Codable, Sendable, Equatable {
    public var users = 0
    public var tenants = 0
    public var agents = 0
    public var keys = 0
    public var sessions = 0
    public var messages = 0
    /// Redis keys removed in all.
    public var redisKeys = 0

    public init() {}

    public static func + (a: DeletionCounts, b: DeletionCounts) -> DeletionCounts {
        var sum = DeletionCounts()
        sum.users = a.users + b.users
        sum.tenants = a.tenants + b.tenants
        sum.agents = a.agents + b.agents
        sum.keys = a.keys + b.keys
        sum.sessions = a.sessions + b.sessions
        sum.messages = a.messages + b.messages
        sum.redisKeys = a.redisKeys + b.redisKeys
        return sum
    }

    enum CodingKeys: String, CodingKey {
        case users, tenants, agents, keys, sessions, messages
        case redisKeys = "redis_keys"
    }
}

/// A tenant's figures.
public struct TenantStats: Codable, Sendable, Equatable {
    public var users = 0
    public var agents = 0
    public var sessions = 0
    public var messages = 0
    public var tokens = Usage(promptTokens: 0, completionTokens: 0)

    public init() {}
}
