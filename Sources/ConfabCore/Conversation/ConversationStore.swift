/// Where conversations live. `RedisConversationStore` is the real one; `InMemoryConversationStore`
/// serves tests of the turn logic. Every method scopes to one user: another user's session is unknown.
public protocol ConversationStore: Sendable {
    /// A new session; nil when the user already has `maxSessions` (the oldest must be deleted first).
    func createSession(user: String, persona: String, now: Double, maxSessions: Int) async throws -> SessionInfo?
    /// The user's sessions, newest activity first.
    func sessions(user: String, limit: Int) async throws -> [SessionInfo]
    /// All stored messages oldest first, or nil when the session is unknown.
    func history(user: String, session: String) async throws -> [ChatMessage]?
    /// Empties a session's messages; false when the session is unknown.
    func clearHistory(user: String, session: String) async throws -> Bool
    func deleteSession(user: String, session: String) async throws -> Bool
    /// Deletes every session of the user, and the user's usage totals; returns how many sessions there were.
    func deleteAllSessions(user: String) async throws -> Int

    /// The first round trip of a turn: checks the session, takes its lock, reads the history
    /// window (newest first, before the new message) and stores the user's message.
    func beginTurn(_ start: TurnStart) async throws -> TurnStartResult
    /// The second round trip: stores the reply, counts usage, releases the lock. Storing the same
    /// reply again (a retry after a timeout) changes nothing.
    func finishTurn(_ finish: TurnFinish) async throws
    /// Undoes `beginTurn` if it took effect after all (its answer was lost to a timeout): frees
    /// the lock it took and removes the user message; a begin that arrives later does nothing.
    /// The Redis store calls it by itself after a begin that timed out.
    func abandonTurn(_ start: TurnStart) async throws

    /// One session, or nil when the user has no such session.
    func session(user: String, id: String) async throws -> SessionInfo?
    /// Creates a session with a client-chosen id (with `defaultPersona` unless one is given), or
    /// updates its title and persona (nil keeps them).
    func upsertSession(user: String, id: String, title: String?, persona: String?, defaultPersona: String, now: Double,
                       maxSessions: Int) async throws -> SessionUpsert
    /// The user's token usage over all sessions.
    func usage(user: String) async throws -> Usage

    /// Adds messages a client wrote itself (an OpenAI conversation's items), oldest first, after
    /// the newest; false when the session is unknown.
    func appendMessages(user: String, session: String, messages: [ChatMessage], now: Double) async throws -> Bool
    /// Removes one message; false when the session or the message is unknown.
    func deleteMessage(user: String, session: String, messageID: String) async throws -> Bool
    /// A JSON document a front door keeps with a session (Open WebUI's chat as its client sent
    /// it, an OpenAI conversation's metadata): kept and deleted with the session, never parsed
    /// by the store. Nil when the session or the document does not exist.
    func document(user: String, session: String, name: SessionDocument) async throws -> String?
    /// Saves one, and with `title` retitles the session, in one step; false when the session is
    /// unknown (nothing is written).
    func saveDocument(user: String, session: String, name: SessionDocument, json: String, title: String?, now: Double) async throws -> Bool

    /// A turn kept nowhere (a stateless completion) still holds stream slots: takes one in each
    /// of the quota's scopes under `token` until `milliseconds` from `now`, or answers the limit
    /// that is full (nothing taken).
    func takeStreamSlots(user: String, quota: TurnQuota, token: String, milliseconds: Int, now: Double) async throws -> Int?
    /// Frees them and counts the turn's `tokens` in the quota's token meters.
    func releaseStreamSlots(user: String, quota: TurnQuota, token: String, tokens: Int, now: Double) async throws

    /// A short-lived note a front door keeps for a user between two requests (Open WebUI's
    /// client names the chat of a streamed completion only in the message event before it).
    func note(user: String, name: UserNote) async throws -> String?
    func saveNote(user: String, name: UserNote, value: String, ttlSeconds: Int) async throws

    /// The raw upstream exchange kept for a reply when debug capture is on.
    func debugCapture(user: String, messageID: String) async throws -> String?
    /// Throws when the store cannot be reached.
    func ping() async throws
}

/// The documents a session can carry, one per front door that needs one.
public enum SessionDocument: String, Sendable {
    /// Open WebUI's chat object (its title, message tree, files), stored as its client sent it.
    case openWebUIChat = "doc:openwebui"
    /// An OpenAI conversation's `metadata`.
    case conversationMetadata = "doc:metadata"
}

/// The notes a user can have, one per front door that needs one.
public enum UserNote: String, Sendable {
    /// The chat and text of the last message event from Open WebUI's client.
    case openWebUIMessageEvent = "note:openwebui-event"
}

/// What the first round trip of a turn needs.
public struct TurnStart: Sendable {
    public var user: String
    public var session: String
    /// The persona asked for; empty for the session's own.
    public var persona: String
    public var message: ChatMessage
    public var window: Int
    public var lockToken: String
    public var lockMilliseconds: Int
    /// Create the session if it does not exist (a chat id the client made up), within `maxSessions`.
    public var createIfMissing = false
    public var maxSessions = Int.max
    /// A new session's persona when none is asked for.
    public var defaultPersona = ""
    /// The caller's limits on streams at once (and the meters its tokens count in).
    public var quota = TurnQuota()
    /// Earlier turns the client brings along (OpenAI's input items), oldest first: stored before
    /// the user's message in the same step, so a refused turn stores none of them.
    public var earlier: [ChatMessage] = []

    /// The message a new session is titled after: the first the client sent.
    var titleMessage: ChatMessage { earlier.first { $0.role == .user } ?? message }
}

/// The rate scopes a turn counts in: the user's, then the API key's when the request used one.
/// Empty for anonymous callers (nothing is metered).
public struct TurnQuota: Sendable, Equatable {
    public var scopes: [RateScope]

    public init(scopes: [RateScope] = []) { self.scopes = scopes }
}

/// What `upsertSession` did.
public enum SessionUpsert: Sendable, Equatable {
    case created, updated
    /// The user already has the most sessions allowed; nothing was written.
    case limitReached
}

/// What the first round trip of a turn found.
public enum TurnStartResult: Sendable, Equatable {
    /// The window of earlier messages, newest first, and the session's persona (the one asked
    /// for, or the session's own when none was).
    /// `agent` is the session's agent when its persona is one (`agt_…`) and the agent exists.
    case started(window: [ChatMessage], persona: String?, agent: Agent?)
    case unknownSession
    /// The agent asked for is not one of the user's.
    case unknownAgent
    /// The caller already has this many streams open (a limit of the user or the key).
    case streamLimit(Int)
    /// The session would be new, and the user already has the most sessions allowed.
    case sessionLimit
    /// Another reply is streaming for this session.
    case busy
}

/// What the second round trip of a turn stores.
public struct TurnFinish: Sendable {
    public var user: String
    public var session: String
    public var reply: ChatMessage
    public var lockToken: String
    /// The exact upstream request and raw response, when debug capture is on.
    public var debugCapture: String?
    /// Frees the turn's stream slots and counts its tokens in the caller's meters.
    public var quota = TurnQuota()
}
