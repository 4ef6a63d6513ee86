import ConfabCore

/// Who a request comes from, as its credentials proved.
public enum Caller: Sendable {
    /// A registered user, with an access token or one of their API keys.
    case user(SignedInUser)
    /// The holder of `CONFAB_ADMIN_TOKEN`: the administration routes only.
    case admin
}

/// A registered user and what their credentials allow. A class, so the request context that
/// carries it through every middleware stays a few words wide.
public final class SignedInUser: Sendable {
    public let account: Account
    /// The API key used, if the request came with one (not with an access token).
    public let key: APIKeyRecord?
    /// Where this request's turns are metered: the user's defaults and the key's own limits.
    public let quota: TurnQuota
    /// The request meters after counting this request (for `x-ratelimit-*` headers).
    public let requests: RateLimitState?
    public let tokens: RateLimitState?
    /// When the access token that proved this runs out (nil for an API key): a socket opened
    /// with it takes no turn after that.
    public let expires: Double?

    init(account: Account, key: APIKeyRecord?, quota: TurnQuota, requests: RateLimitState?, tokens: RateLimitState?, expires: Double? = nil) {
        self.expires = expires
        self.account = account
        self.key = key
        self.quota = quota
        self.requests = requests
        self.tokens = tokens
    }
}

/// Whose data a request works on: a registered user, or in open mode an anonymous name that
/// lives in a namespace of its own (`anon:<name>`), which no registered user's id can reach.
struct Owner: Sendable, Equatable {
    /// The id the store keys the data by.
    let storeID: String
    /// The id the client knows (the anonymous name, or the user id).
    let shownID: String
    let quota: TurnQuota

    static func anonymous(_ name: String) -> Owner { Owner(storeID: "anon:" + name, shownID: name, quota: TurnQuota()) }
    static func user(_ user: SignedInUser) -> Owner { Owner(storeID: user.account.id, shownID: user.account.id, quota: user.quota) }

    var isRegistered: Bool { !storeID.hasPrefix("anon:") }
}
