import Foundation

/// A store in memory with the same rules as the Redis one (cap, lock, per-user scoping), for
/// tests of the turn logic that need no Redis. TTLs are not modelled.
public actor InMemoryConversationStore: ConversationStore {
    private struct Session {
        var info: SessionInfo
        var messages: [ChatMessage] = []  // newest first, like the Redis list
        var lock: String?
        var documents: [SessionDocument: String] = [:]
    }

    private let cap: Int
    private var sessions: [String: [String: Session]] = [:]
    private var captures: [String: String] = [:]
    private var usageByUser: [String: Usage] = [:]
    private var agents: [String: [String: Agent]] = [:]
    private var notes: [String: [UserNote: String]] = [:]

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
        usageByUser[user] = nil
        return sessions.removeValue(forKey: user)?.count ?? 0
    }

    /// Agents the turn logic can find, as the Redis store finds them in the user's agents hash.
    public func putAgent(user: String, _ agent: Agent) {
        agents[user, default: [:]][agent.id] = agent
    }

    /// Stream limits (`start.quota`) are not enforced here; the Redis store does.
    public func beginTurn(_ start: TurnStart) -> TurnStartResult {
        if start.persona.hasPrefix(Agent.idPrefix), agents[start.user]?[start.persona] == nil { return .unknownAgent }
        if sessions[start.user]?[start.session] == nil, start.createIfMissing {
            guard sessions[start.user, default: [:]].count < start.maxSessions else { return .sessionLimit }
            sessions[start.user, default: [:]][start.session] = Session(info: SessionInfo(
                id: start.session, title: "", persona: start.persona.isEmpty ? start.defaultPersona : start.persona,
                createdAt: start.message.timestamp,
                updatedAt: start.message.timestamp, messageCount: 0))
        }
        guard var session = sessions[start.user]?[start.session] else { return .unknownSession }
        guard session.lock == nil else { return .busy }
        let window = Array(session.messages.prefix(start.window))
        session.lock = start.lockToken
        for message in start.earlier + [start.message] { store(message, in: &session) }
        if session.info.title.isEmpty { session.info.title = SessionInfo.title(from: start.titleMessage.content) }
        if !start.persona.isEmpty { session.info.persona = start.persona }
        sessions[start.user]![start.session] = session
        return .started(window: window, persona: session.info.persona.isEmpty ? nil : session.info.persona,
                        agent: agents[start.user]?[session.info.persona])
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
        if let usage = finish.reply.usage {
            usageByUser[finish.user] = usageByUser[finish.user].map { $0 + usage } ?? usage
        }
        if let capture = finish.debugCapture { captures[finish.reply.id] = capture }
    }

    public func abandonTurn(_ start: TurnStart) {
        guard var session = sessions[start.user]?[start.session], session.lock == start.lockToken else { return }
        session.lock = nil
        let ids = Set([start.message.id] + start.earlier.map(\.id))
        session.messages.removeAll { ids.contains($0.id) }
        session.info.messageCount = session.messages.count
        sessions[start.user]![start.session] = session
    }

    public func session(user: String, id: String) -> SessionInfo? { sessions[user]?[id]?.info }

    public func upsertSession(user: String, id: String, title: String?, persona: String?, defaultPersona: String, now: Double,
                              maxSessions: Int) -> SessionUpsert {
        let existed = sessions[user]?[id] != nil
        if !existed {
            guard sessions[user, default: [:]].count < maxSessions else { return .limitReached }
            sessions[user, default: [:]][id] = Session(info: SessionInfo(id: id, title: title ?? "", persona: persona ?? defaultPersona,
                                                                        createdAt: now, updatedAt: now, messageCount: 0))
        }
        if let title, !title.isEmpty { sessions[user]![id]!.info.title = title }
        if let persona, !persona.isEmpty { sessions[user]![id]!.info.persona = persona }
        sessions[user]![id]!.info.updatedAt = now
        return existed ? .updated : .created
    }

    public func usage(user: String) -> Usage {
        let usage = usageByUser[user] ?? Usage(promptTokens: 0, completionTokens: 0)
        return Usage(promptTokens: usage.promptTokens, completionTokens: usage.completionTokens)
    }

    public func appendMessages(user: String, session: String, messages: [ChatMessage], now: Double) -> Bool {
        guard sessions[user]?[session] != nil else { return false }
        for message in messages { store(message, in: &sessions[user]![session]!) }
        sessions[user]![session]!.info.updatedAt = now
        return true
    }

    public func deleteMessage(user: String, session: String, messageID: String) -> Bool {
        guard let index = sessions[user]?[session]?.messages.firstIndex(where: { $0.id == messageID }) else { return false }
        sessions[user]![session]!.messages.remove(at: index)
        sessions[user]![session]!.info.messageCount -= 1
        return true
    }

    public func document(user: String, session: String, name: SessionDocument) -> String? {
        sessions[user]?[session]?.documents[name]
    }

    public func saveDocument(user: String, session: String, name: SessionDocument, json: String, title: String?, now: Double) -> Bool {
        guard sessions[user]?[session] != nil else { return false }
        sessions[user]![session]!.documents[name] = json
        if let title {
            sessions[user]![session]!.info.title = title
            sessions[user]![session]!.info.updatedAt = now
        }
        return true
    }

    /// Stream limits are not enforced here (as in `beginTurn`).
    public func takeStreamSlots(user: String, quota: TurnQuota, token: String, milliseconds: Int, now: Double) -> Int? { nil }

    public func releaseStreamSlots(user: String, quota: TurnQuota, token: String, tokens: Int, now: Double) {}

    /// Notes do not expire here.
    public func note(user: String, name: UserNote) -> String? { notes[user]?[name] }

    public func saveNote(user: String, name: UserNote, value: String, ttlSeconds: Int) { notes[user, default: [:]][name] = value }

    public func debugCapture(user: String, messageID: String) -> String? { captures[messageID] }

    public func ping() {}

    private func store(_ message: ChatMessage, in session: inout Session) {
        session.messages.insert(message, at: 0)
        session.messages = Array(session.messages.prefix(cap))
        session.info.messageCount = session.messages.count
        session.info.updatedAt = message.timestamp
    }
}
