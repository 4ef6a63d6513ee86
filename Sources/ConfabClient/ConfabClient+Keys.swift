/// The caller's API keys (`/api/v1/keys`) and who the caller is (`/api/v1/me`).
extension ConfabClient {
    /// The caller's keys, without their secrets.
    public func keys() async throws -> [APIKey] {
        try await send(.GET, "/api/v1/keys", as: KeyList.self).keys
    }

    /// Makes a key; its secret is in the answer and nowhere else, ever.
    public func createKey(name: String? = nil, limits: KeyLimits? = nil) async throws -> NewAPIKey {
        try await send(.POST, "/api/v1/keys", body: KeyRequest(name: name, limits: limits))
    }

    /// Revokes a key: its next request fails, on every instance.
    public func revokeKey(id: String) async throws {
        _ = try await send(.DELETE, "/api/v1/keys/\(Self.segment(id))", as: JSONValue.self)
    }

    /// The caller's account, tenant and usage.
    public func me() async throws -> Me {
        try await send(.GET, "/api/v1/me")
    }
}

private struct KeyList: Decodable {
    var keys: [APIKey]
}

private struct KeyRequest: Encodable {
    var name: String?
    var limits: KeyLimits?
}
