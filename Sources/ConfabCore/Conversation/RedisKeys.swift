/// The key schema. Every key of one user carries the hash tag `{u:<user>}`, so all of a user's
/// keys sit in one Redis Cluster slot and each write of a turn can be one atomic script.
/// User ids are validated to a safe character set before they reach here.
struct RedisKeys {
    let prefix: String

    init(user: String) { prefix = "confab:{u:\(user)}" }

    var sessions: String { "\(prefix):sessions" }
    /// The user's token usage over all sessions.
    var usage: String { "\(prefix):usage" }
    func session(_ id: String) -> String { "\(prefix):session:\(id)" }
    func messages(_ id: String) -> String { "\(prefix):session:\(id):messages" }
    func lock(_ id: String) -> String { "\(prefix):session:\(id):lock" }
    /// Marks a turn whose caller gave up on its begin (a timeout): the begin, if it runs later, does nothing.
    func abandoned(_ id: String, token: String) -> String { "\(prefix):session:\(id):abandoned:\(token)" }
    func debug(_ messageID: String) -> String { "\(prefix):debug:\(messageID)" }
    /// A front door's short-lived note (`UserNote`).
    func note(_ name: String) -> String { "\(prefix):\(name)" }
}

/// A user's identity keys, under the same hash tag as the user's conversations.
extension RedisKeys {
    var account: String { "\(prefix):account" }
    var apiKeys: String { "\(prefix):keys" }
    var agents: String { "\(prefix):agents" }
    /// Requests in one minute (`window` = Unix time / 60) for a scope (`user` or `key:<id>`).
    func requestMeter(_ scope: String, window: Int) -> String { "\(prefix):rate:\(scope):req:\(window)" }
    func tokenMeter(_ scope: String, window: Int) -> String { "\(prefix):rate:\(scope):tok:\(window)" }
    /// The scope's streaming turns: lock tokens scored by when they expire.
    func streamSlots(_ scope: String) -> String { "\(prefix):rate:\(scope):streams" }
    /// Every key of the user (for deletion).
    var pattern: String { "\(prefix):*" }

    /// Rate limits count in fixed windows of a minute.
    static func window(_ now: Double) -> Int { Int(now) / 60 }
}

/// Keys that are not a user's: the username index, tenants, login meters, stream tickets.
/// Each is its own hash tag (a single-key step), or a tenant's (its hash and members together).
enum IdentityKeys {
    static func username(_ name: String) -> String { "confab:{name:\(name.lowercased())}" }
    /// All usernames (lowercased), for prefix look-ups by ZRANGEBYLEX.
    static let usernames = "confab:usernames"
    static func tenant(_ id: String) -> String { "confab:{t:\(id)}:tenant" }
    static func members(_ id: String) -> String { "confab:{t:\(id)}:members" }
    static func loginByName(_ name: String, window: Int) -> String { "confab:{login:\(name.lowercased())}:\(window)" }
    static func loginByAddress(_ address: String, window: Int) -> String { "confab:{login-ip:\(address)}:\(window)" }
    static func ticket(_ hash: String) -> String { "confab:{ticket:\(hash)}" }
}
