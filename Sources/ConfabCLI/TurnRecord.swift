/// One turn of an integration run as measured: whose it was, how long the first token and the
/// whole reply took (from sending the `chat` frame), and why it failed, if it did.
struct TurnRecord: Encodable, Equatable, Sendable {
    /// The username.
    var user: String
    /// The agent id (`agt_…`).
    var agent: String
    var template: String
    /// 1 for the conversation's first message.
    var turn: Int
    var sessionID: String?
    /// To the first `content` event; nil when none came.
    var firstTokenMs: Double?
    /// To the ending frame; nil when none came.
    var replyMs: Double?
    /// Nil when the turn succeeded: a `finish` with status `complete`.
    var failure: TurnFailure?

    var succeeded: Bool { failure == nil }
}

/// Why a turn did not succeed, and the server's or the socket's words for it.
struct TurnFailure: Encodable, Equatable, Sendable {
    enum Kind: String, Encodable, Sendable {
        /// The reply ended with an `error` frame: the model failed; the partial reply is stored.
        case errorEnding = "error_ending"
        /// A `finish` whose status is not `complete`.
        case incomplete
        /// The server refused the `chat` frame (`{"type":"error"}` without a message): nothing stored.
        case refused
        /// The socket closed or broke under the turn, or before it could be sent.
        case socketClosed = "socket_closed"
        /// No ending within the turn timeout; the runner sent `stop`.
        case timedOut = "timed_out"
        /// Stopped without the runner asking.
        case stopped
        /// A frame the client could not read.
        case invalidFrame = "invalid_frame"
        /// Never sent: the conversation's socket did not open.
        case notSent = "not_sent"
    }

    var kind: Kind
    var message: String
}
