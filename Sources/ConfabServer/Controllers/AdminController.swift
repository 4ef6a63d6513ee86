import ConfabCore
import Hummingbird

/// Clean-up with `CONFAB_ADMIN_TOKEN`: a user, a tenant, or every user whose name starts with a
/// prefix, with all their sessions, histories, agents and keys; answers what was removed.
struct AdminController: Sendable {
    typealias Context = ConfabRequestContext
    let accounts: any AccountStore
    let validate: Validation

    func addRoutes(to router: RouteTable<Context>) {
        router.delete("/api/v1/admin/users/{user_id}", use: deleteUser)
        router.delete("/api/v1/admin/users", use: deleteByPrefix)
        router.delete("/api/v1/admin/tenants/{tenant_id}", use: deleteTenant)
    }

    @Sendable func deleteUser(_ request: Request, context: Context) async throws -> Response {
        try await delete(context, "user", prefix: "usr_") { try await accounts.deleteUser(id: $0) }
    }

    @Sendable func deleteTenant(_ request: Request, context: Context) async throws -> Response {
        try await delete(context, "tenant", prefix: "ten_") { try await accounts.deleteTenant(id: $0) }
    }

    /// Deletes what the path's `{<kind>_id}` names; 404 when there is no such thing.
    private func delete(_ context: Context, _ kind: String, prefix: String,
                        _ call: (String) async throws -> DeletionCounts?) async throws -> Response {
        try requireAdmin(context)
        guard let id = context.parameters.get("\(kind)_id"), Identifier.isValid(id, prefix: prefix) else {
            throw APIError(.badRequest, code: "invalid_\(kind)_id", "\(kind)_id must look like \(prefix) followed by 16 letters or digits")
        }
        guard let counts = try await storage({ try await call(id) }) else {
            throw APIError(.notFound, code: "\(kind)_not_found", "no such \(kind)")
        }
        return try JSONBody.response(DeletionReply(deleted: counts))
    }

    /// `DELETE /api/v1/admin/users?prefix=` — usernames that start with the prefix, never ones
    /// that merely contain it. The prefix must be at least 2 characters.
    @Sendable func deleteByPrefix(_ request: Request, context: Context) async throws -> Response {
        try requireAdmin(context)
        guard let prefix = request.query("prefix"), prefix.utf8.count >= 2, prefix.utf8.count <= 64,
              prefix.utf8.allSatisfy({ Validation.isASCIIAlphanumeric($0) || "_.-".utf8.contains($0) }) else {
            throw APIError(.badRequest, code: "invalid_prefix", "prefix must be 2 to 64 letters, digits, _ . or -")
        }
        let users = try await storage { try await accounts.users(withPrefix: prefix) }
        var counts = DeletionCounts()
        for user in users {
            counts = counts + (try await storage { try await accounts.deleteUser(id: user.id) } ?? DeletionCounts())
        }
        return try JSONBody.response(DeletionReply(deleted: counts, usernames: users.map(\.username)))
    }

    private func requireAdmin(_ context: Context) throws {
        guard validate.settings.identity.adminToken != nil else {
            throw APIError(.forbidden, code: "admin_disabled", "administration is off: set CONFAB_ADMIN_TOKEN")
        }
        switch context.identity {
        case .admin: return
        case .user: throw APIError(.forbidden, code: "admin_only", "this route needs the admin token")
        case nil: throw APIError.credentialsRequired
        }
    }
}

struct DeletionReply: Encodable {
    var deleted: DeletionCounts
    var usernames: [String]?
}
