/// A new account, as `POST /api/v1/auth/register` answers it: the user, the tenant made for
/// them (with the user as its owner), a short-lived access token and a first API key.
public struct Registration: Codable, Sendable, Equatable {
    public var user: Account
    public var tenant: Tenant
    /// A JWT valid for `expiresIn` seconds; the API key does not expire.
    public var accessToken: String
    public var expiresIn: Int
    /// The first API key, with its secret (shown this once).
    public var apiKey: NewAPIKey

    enum CodingKeys: String, CodingKey {
        case user, tenant
        case accessToken = "access_token"
        case expiresIn = "expires_in"
        case apiKey = "api_key"
    }
}
