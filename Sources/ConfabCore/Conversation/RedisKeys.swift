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
}
