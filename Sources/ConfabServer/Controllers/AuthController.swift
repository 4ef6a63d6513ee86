import ConfabCore
import Foundation
import Hummingbird

/// Accounts: register (a user, their tenant, an access token and a first API key), log in,
/// who am I, and single-use stream tickets for EventSource.
struct AuthController: Sendable {
    typealias Context = ConfabRequestContext
    let accounts: any AccountStore
    let store: any ConversationStore
    let tokens: AccessTokens
    let passwords: Passwords
    let validate: Validation

    var settings: IdentitySettings { validate.settings.identity }

    func addRoutes(to router: RouteTable<Context>) {
        router.post("/api/v1/auth/register", use: register)
        router.post("/api/v1/auth/login", use: login)
        router.post("/api/v1/auth/ticket", use: ticket)
        router.get("/api/v1/me", use: me)
    }

    /// `POST /api/v1/auth/register` {username, password, email?, tenant_name?} → 201.
    @Sendable func register(_ request: Request, context: Context) async throws -> Response {
        var request = request
        let body = try await validate.decode(RegisterRequest.self, from: &request)
        let username = try validate.username(body.username)
        let password = try validate.password(body.password)
        let email = try validate.email(body.email)
        let tenantName = try body.tenantName.map { try validate.displayName($0, field: "tenant_name") } ?? "\(username)'s team"
        try await checkAddress(context)
        let now = Date().timeIntervalSince1970
        let userID = Identifier.user()
        let tenant = Tenant(id: Identifier.tenant(), name: tenantName, ownerID: userID, createdAt: now)
        let account = Account(id: userID, username: username, email: email, tenantID: tenant.id, role: .owner, createdAt: now)
        let created = try await AccountCreation(accounts: accounts, passwords: passwords)
            .create(account, password: password, newTenant: tenant)
        return try JSONBody.response(RegisterReply(user: account, tenant: tenant, accessToken: try await token(for: account),
                                                   expiresIn: tokens.lifetimeSeconds, key: created),
                                     status: .created)
    }

    /// `POST /api/v1/auth/login` {username, password} → an access token. Attempts are limited per
    /// username and per client address; a wrong password and an unknown user get the same 401.
    @Sendable func login(_ request: Request, context: Context) async throws -> Response {
        var request = request
        let body = try await validate.decode(LoginRequest.self, from: &request)
        guard let username = body.username, let password = body.password, !username.isEmpty, username.utf8.count <= 64,
              password.utf8.count <= 1024 else {
            throw APIError(.badRequest, code: "missing_field", "username and password are required")
        }
        let (byName, byAddress) = try await storage { try await accounts.countLoginAttempt(username: username, address: context.clientAddress) }
        if byName > settings.loginAttemptsPerUsername || byAddress > settings.loginAttemptsPerAddress {
            let limit = byName > settings.loginAttemptsPerUsername ? settings.loginAttemptsPerUsername : settings.loginAttemptsPerAddress
            throw APIError.rateLimited(RateLimitState(kind: .requests, limit: limit, remaining: 0,
                                                      resetSeconds: 60 - Int(Date().timeIntervalSince1970) % 60))
        }
        let found = try await storage { try await accounts.credentials(username: username) }
        guard try await passwords.verify(password, hash: found?.passwordHash), let account = found?.account else {
            throw APIError(.unauthorized, code: "invalid_credentials", "invalid username or password",
                           headers: [.wwwAuthenticate: "Bearer realm=\"confab\""])
        }
        try? await accounts.clearLoginAttempts(username: username)
        return try JSONBody.response(TokenReply(accessToken: try await token(for: account), expiresIn: tokens.lifetimeSeconds, user: account))
    }

    /// `POST /api/v1/auth/ticket` → a single-use ticket for `GET …?ticket=` (EventSource sends
    /// no headers), valid for `CONFAB_STREAM_TICKET_SECONDS`. The key never goes in a URL.
    @Sendable func ticket(_ request: Request, context: Context) async throws -> Response {
        let user = try validate.signedIn(context)
        let ticket = "cft_" + Identifier.random(32, secret: true)
        let holder = StreamTicket(user: user.account.id, keyID: user.key?.id, keyHash: user.key?.hash)
        try await storage { try await accounts.putTicket(hash: APIKeySecret.sha256(ticket), holder, ttlSeconds: settings.ticketSeconds) }
        return try JSONBody.response(["ticket": .string(ticket), "expires_in": JSONValue.number(Double(settings.ticketSeconds))],
                                     status: .created)
    }

    /// `GET /api/v1/me` → the user, their tenant and their token usage.
    @Sendable func me(_ request: Request, context: Context) async throws -> Response {
        let user = try validate.signedIn(context)
        let tenant = try await storage { try await accounts.tenant(id: user.account.tenantID) }
        let usage = try await storage { try await store.usage(user: user.account.id) }
        return try JSONBody.response(MeReply(user: user.account, tenant: tenant, usage: usage, key: user.key.map(KeyView.init)))
    }

    private func token(for account: Account) async throws -> String {
        do { return try await tokens.issue(for: account) } catch {
            throw APIError(.internalServerError, code: "token_error", "could not sign an access token")
        }
    }

    /// Registrations count against the client address's login meter: each costs a bcrypt hash.
    private func checkAddress(_ context: Context) async throws {
        let (_, byAddress) = try await storage { try await accounts.countLoginAttempt(username: nil, address: context.clientAddress) }
        if byAddress > settings.loginAttemptsPerAddress {
            throw APIError.rateLimited(RateLimitState(kind: .requests, limit: settings.loginAttemptsPerAddress, remaining: 0,
                                                      resetSeconds: 60 - Int(Date().timeIntervalSince1970) % 60))
        }
    }
}

/// Makes a user: hashes the password (off the event loops), stores the account, and gives it
/// a first API key. Shared by registration and a tenant owner adding a user.
struct AccountCreation {
    let accounts: any AccountStore
    let passwords: Passwords

    func create(_ account: Account, password: String, newTenant: Tenant?) async throws -> NewKeyReply {
        let hash = try await passwords.hash(password)
        guard try await storage({ try await accounts.register(account, passwordHash: hash, newTenant: newTenant) }) == .created else {
            throw APIError(.conflict, code: "username_taken", "that username is taken")
        }
        // A new user has no keys, so the first is always made.
        guard let key = try await KeyIssuer(accounts: accounts).issue(for: account.id, name: "default", limits: RateLimits(), most: 1) else {
            throw APIError(.conflict, code: "username_taken", "that username is taken")
        }
        return key
    }
}

struct RegisterRequest: Decodable {
    var username: String?
    var password: String?
    var email: String?
    var tenantName: String?

    enum CodingKeys: String, CodingKey {
        case username, password, email
        case tenantName = "tenant_name"
    }
}

struct LoginRequest: Decodable {
    var username: String?
    var password: String?
}

struct RegisterReply: Encodable {
    var user: Account
    var tenant: Tenant
    var accessToken: String
    var tokenType = "bearer"
    var expiresIn: Int
    var key: NewKeyReply

    enum CodingKeys: String, CodingKey {
        case user, tenant
        case accessToken = "access_token"
        case tokenType = "token_type"
        case expiresIn = "expires_in"
        case key = "api_key"
    }
}

struct TokenReply: Encodable {
    var accessToken: String
    var tokenType = "bearer"
    var expiresIn: Int
    var user: Account

    enum CodingKeys: String, CodingKey {
        case user
        case accessToken = "access_token"
        case tokenType = "token_type"
        case expiresIn = "expires_in"
    }
}

struct MeReply: Encodable {
    var user: Account
    var tenant: Tenant?
    var usage: Usage
    /// The API key this request used, if it used one.
    var key: KeyView?
}
