/// Who may use the API, and how much: the settings of accounts, tokens, keys and limits.
public struct IdentitySettings: Sendable {
    /// `open` (anonymous `user_id` still accepted) or `required` (credentials on every API route).
    public var mode = AuthMode.open
    /// Signs access tokens; nil makes a random one at start-up (tokens die with the process).
    public var jwtSecret: String?
    public var accessTokenSeconds = 900
    /// The Bearer token of the administration routes; nil turns them off.
    public var adminToken: String?
    public var bcryptCost = 11
    public var loginAttemptsPerUsername = 10
    public var loginAttemptsPerAddress = 60
    /// Every user's limits, over all their credentials; a key's own limits apply on top (nil: no limit).
    public var userLimits = RateLimits(requestsPerMinute: 600, tokensPerMinute: nil, concurrentStreams: 16)
    public var ticketSeconds = 60
    public var maxKeysPerUser = 20
    public var maxAgentsPerUser = 100

    public init() {}

    static func load(_ read: SettingsReader) throws(SettingsError) -> IdentitySettings {
        var s = IdentitySettings()
        let mode = read.string("CONFAB_AUTH", s.mode.rawValue)
        guard let parsed = AuthMode(rawValue: mode) else { throw SettingsError(name: "CONFAB_AUTH", value: mode, expected: "open or required") }
        s.mode = parsed
        s.jwtSecret = read.environment["CONFAB_JWT_SECRET"].flatMap { $0.isEmpty ? nil : $0 }
        if let secret = s.jwtSecret, secret.utf8.count < 32 {
            throw SettingsError(name: "CONFAB_JWT_SECRET", value: "(hidden)", expected: "at least 32 characters")
        }
        s.adminToken = read.environment["CONFAB_ADMIN_TOKEN"].flatMap { $0.isEmpty ? nil : $0 }
        if let token = s.adminToken, token.utf8.count < 24 {
            throw SettingsError(name: "CONFAB_ADMIN_TOKEN", value: "(hidden)", expected: "at least 24 characters")
        }
        s.accessTokenSeconds = try read.int("CONFAB_ACCESS_TOKEN_SECONDS", s.accessTokenSeconds, in: 30...86_400)
        s.bcryptCost = try read.int("CONFAB_BCRYPT_COST", s.bcryptCost, in: 4...16)
        s.loginAttemptsPerUsername = try read.int("CONFAB_LOGIN_ATTEMPTS_PER_USERNAME", s.loginAttemptsPerUsername, in: 1...100_000)
        s.loginAttemptsPerAddress = try read.int("CONFAB_LOGIN_ATTEMPTS_PER_ADDRESS", s.loginAttemptsPerAddress, in: 1...1_000_000)
        s.userLimits = RateLimits(
            requestsPerMinute: try read.limit("CONFAB_RATE_REQUESTS_PER_MINUTE", s.userLimits.requestsPerMinute),
            tokensPerMinute: try read.limit("CONFAB_RATE_TOKENS_PER_MINUTE", s.userLimits.tokensPerMinute),
            concurrentStreams: try read.limit("CONFAB_RATE_CONCURRENT_STREAMS", s.userLimits.concurrentStreams))
        s.ticketSeconds = try read.int("CONFAB_STREAM_TICKET_SECONDS", s.ticketSeconds, in: 5...3600)
        s.maxKeysPerUser = try read.int("CONFAB_MAX_KEYS_PER_USER", s.maxKeysPerUser, in: 1...1000)
        s.maxAgentsPerUser = try read.int("CONFAB_MAX_AGENTS_PER_USER", s.maxAgentsPerUser, in: 1...10_000)
        return s
    }
}

/// Whether the API answers callers without credentials.
public enum AuthMode: String, Sendable {
    /// Anonymous callers name themselves with `user_id` (in a namespace of their own).
    case open
    /// Every API route but health, readiness, metrics, the page, register and login needs credentials.
    case required
}

extension SettingsReader {
    /// A limit: a whole number, 0 for none.
    func limit(_ name: String, _ fallback: Int?) throws(SettingsError) -> Int? {
        let value = try int(name, fallback ?? 0, in: 0...100_000_000)
        return value == 0 ? nil : value
    }
}
