/// Accounts (`/api/v1/auth`).
extension ConfabClient {
    /// Registers a user in a tenant of their own; needs no credentials. `username` is 3 to 64
    /// letters, digits and `_ . -`, starting with a letter or digit; `password` 8 characters to
    /// 72 bytes with at least two of letters, digits and symbols.
    ///
    /// Retried like opening a stream (``retry``): registrations count against the client
    /// address's login meter, so a burst of them meets 429 with `Retry-After`. A retry after a
    /// lost answer may find the name taken (409 `username_taken`).
    public func register(username: String, password: String, email: String? = nil, tenantName: String? = nil) async throws -> Registration {
        let body = RegisterRequest(username: username, password: password, email: email, tenantName: tenantName)
        return try await retry.run { () async throws(ConfabClientError) -> Registration in
            try await send(.POST, "/api/v1/auth/register", body: body)
        }
    }
}

private struct RegisterRequest: Encodable {
    var username: String
    var password: String
    var email: String?
    var tenantName: String?

    enum CodingKeys: String, CodingKey {
        case username, password, email
        case tenantName = "tenant_name"
    }
}
