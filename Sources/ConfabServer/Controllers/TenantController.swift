import ConfabCore
import Foundation
import Hummingbird

/// A tenant's owner adds users to it and reads its figures; members get a 403. Each route
/// works on the caller's own tenant, so no request can name another.
struct TenantController: Sendable {
    typealias Context = ConfabRequestContext
    let accounts: any AccountStore
    let passwords: Passwords
    let validate: Validation

    func addRoutes(to router: RouteTable<Context>) {
        router.post("/api/v1/tenant/users", use: addUser)
        router.get("/api/v1/tenant/stats", use: stats)
    }

    /// `POST /api/v1/tenant/users` {username, password, email?} → 201 with the user and a first key.
    @Sendable func addUser(_ request: Request, context: Context) async throws -> Response {
        var request = request
        let owner = try self.owner(context)
        let body = try await validate.decode(RegisterRequest.self, from: &request)
        let username = try validate.username(body.username)
        let password = try validate.password(body.password)
        let email = try validate.email(body.email)
        let account = Account(id: Identifier.user(), username: username, email: email, tenantID: owner.account.tenantID,
                              role: .member, createdAt: Date().timeIntervalSince1970)
        let key = try await AccountCreation(accounts: accounts, passwords: passwords).create(account, password: password, newTenant: nil)
        return try JSONBody.response(NewMemberReply(user: account, key: key), status: .created)
    }

    /// `GET /api/v1/tenant/stats` → users, agents, sessions, messages, tokens.
    @Sendable func stats(_ request: Request, context: Context) async throws -> Response {
        let owner = try self.owner(context)
        let tenant = try await storage { try await accounts.tenant(id: owner.account.tenantID) }
        let stats = try await storage { try await accounts.stats(tenant: owner.account.tenantID) }
        return try JSONBody.response(TenantStatsReply(tenant: tenant, stats: stats))
    }

    private func owner(_ context: Context) throws -> SignedInUser {
        let user = try validate.signedIn(context)
        guard user.account.role == .owner else {
            throw APIError(.forbidden, code: "not_tenant_owner", "only the tenant's owner may do this")
        }
        return user
    }
}

struct NewMemberReply: Encodable {
    var user: Account
    var key: NewKeyReply

    enum CodingKeys: String, CodingKey {
        case user
        case key = "api_key"
    }
}

struct TenantStatsReply: Encodable {
    var tenant: Tenant?
    var stats: TenantStats
}
