/// Administration with the server's `CONFAB_ADMIN_TOKEN`.
extension ConfabClient {
    /// Deletes every user whose username starts with `prefix` (2 to 64 letters, digits, `_ . -`),
    /// with all their sessions, histories, agents and keys. `adminToken` is sent instead of the
    /// client's own credentials; nil uses them (a client made with the admin token).
    public func deleteUsers(prefix: String, adminToken: String? = nil) async throws -> AdminDeletion {
        try await send(.DELETE, "/api/v1/admin/users", query: ["prefix": prefix], token: adminToken)
    }
}
