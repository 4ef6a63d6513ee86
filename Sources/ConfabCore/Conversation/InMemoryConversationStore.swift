import Foundation

/// A store in memory with the same rules as the Redis one (cap, lock, per-user scoping), for
/// tests of the turn logic that need no Redis. TTLs are not modelled.
public actor InMemoryConversationStore: ConversationStore {
    private struct Session {
        var info: SessionInfo
        var messages: [ChatMessage] = []  // newest first, like the Redis list
        var lock: String?
    }

    private let cap: Int
    private var sessions: [String: [String: Session]] = [:]
    private var captures: [String: String] = [:]

    public init(cap: Int = 50) { self.cap = cap }

    public func createSession(user: String, persona: String, now: Double, maxSessions: Int = .max) -> SessionInfo? {
        guard sessions[user, default: [:]].count < maxSessions else { return nil }
        let info = SessionInfo(id: UUID().uuidString.lowercased(), title: "", persona: persona,
                               createdAt: now, updatedAt: now, messageCount: 0)
        sessions[user, default: [:]][info.id] = Session(info: info)
        return info
    }

    public func sessions(user: String, limit: Int) -> [SessionInfo] {
        Array((sessions[user] ?? [:]).values.map(\.info).sorted { $0.updatedAt > $1.updatedAt }.prefix(limit))
    }

    public func history(user: String, session: String) -> [ChatMessage]? {
        sessions[user]?[session]?.messages.reversed()
    }

    public func clearHistory(user: String, session: String) -> Bool {
        guard sessions[user]?[session] != nil else { return false }
        sessions[user]![session]!.messages = []
        sessions[user]![session]!.info.messageCount = 0
        return true
    }

    public func deleteSession(user: String, session: String) -> Bool {
        sessions[user]?.removeValue(forKey: session) != nil
    }

    public func deleteAllSessions(user: String) -> Int {
        sessions.removeValue(forKey: user)?.count ?? 0
    }

    public func beginTurn(_ start: TurnStart) -> TurnStartResult {
        guard var session = sessions[start.user]?[start.session] else { return .unknownSession }
        guard session.lock == nil else { return .busy }
        let window = Array(session.messages.prefix(start.window))
        session.lock = start.lockToken
        store(start.message, in: &session)
        if session.info.title.isEmpty { session.info.title = SessionInfo.title(from: start.message.content) }
        session.info.persona = start.persona
        sessions[start.user]![start.session] = session
        return .started(window: window)
    }

    public func finishTurn(_ finish: TurnFinish) {
        guard var session = sessions[finish.user]?[finish.session] else { return }
        if session.lock == finish.lockToken { session.lock = nil }
        guard !session.messages.contains(where: { $0.id == finish.reply.id }) else { return }
        store(finish.reply, in: &session)
        session.info.usage.promptTokens += finish.reply.usage?.promptTokens ?? 0
        session.info.usage.completionTokens += finish.reply.usage?.completionTokens ?? 0
        session.info.usage.totalTokens = session.info.usage.promptTokens + session.info.usage.completionTokens
        sessions[finish.user]![finish.session] = session
        if let capture = finish.debugCapture { captures[finish.reply.id] = capture }
    }

    public func abandonTurn(_ start: TurnStart) {
        guard var session = sessions[start.user]?[start.session], session.lock == start.lockToken else { return }
        session.lock = nil
        session.messages.removeAll { $0.id == start.message.id }
        session.info.messageCount = session.messages.count
        sessions[start.user]![start.session] = session
    }

    public func debugCapture(user: String, messageID: String) -> String? { captures[messageID] }

    public func ping() {}

    private func store(_ message: ChatMessage, in session: inout Session) {
        session.messages.insert(message, at: 0)
        session.messages = Array(session.messages.prefix(cap))
        session.info.messageCount = session.messages.count
        session.info.updatedAt = message.timestamp
    }
}
