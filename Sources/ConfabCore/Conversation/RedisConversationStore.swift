import Foundation
import RedisClient

/// Conversations in Redis: one capped list per session (newest first), a hash of metadata per
/// session and a sorted set of a user's sessions by last activity, all on a sliding TTL.
public struct RedisConversationStore: ConversationStore {
    let redis: RedisClient
    let cap: Int
    let ttlSeconds: Int
    let debugTTLSeconds: Int

    public init(redis: RedisClient, cap: Int, ttlSeconds: Int, debugTTLSeconds: Int = 3600) {
        self.redis = redis
        self.cap = cap
        self.ttlSeconds = ttlSeconds
        self.debugTTLSeconds = debugTTLSeconds
    }

    public func createSession(user: String, persona: String, now: Double, maxSessions: Int) async throws -> SessionInfo? {
        let keys = RedisKeys(user: user)
        let info = SessionInfo(id: UUID().uuidString.lowercased(), title: "", persona: persona,
                               createdAt: now, updatedAt: now, messageCount: 0)
        let created = try await redis.eval(RedisScripts.createSession, keys: [keys.sessions, keys.session(info.id)],
                                           arguments: [maxSessions, now, persona, info.id, ttlSeconds])
        return created.int == 1 ? info : nil
    }

    public func sessions(user: String, limit: Int) async throws -> [SessionInfo] {
        let keys = RedisKeys(user: user)
        let ids = try await redis.send(RedisCommand("ZREVRANGE", keys.sessions, 0, limit - 1)).check()
            .array?.compactMap(\.string) ?? []
        guard !ids.isEmpty else { return [] }
        let metas = try await redis.pipeline(ids.map { Self.sessionFields(keys.session($0)) })
        return zip(ids, metas).compactMap { id, meta in Self.sessionInfo(id: id, hash: meta) }
    }

    public func history(user: String, session: String) async throws -> [ChatMessage]? {
        let keys = RedisKeys(user: user)
        let replies = try await redis.pipeline([
            RedisCommand("EXISTS", keys.session(session)),
            RedisCommand("LRANGE", keys.messages(session), 0, -1),
        ])
        guard try replies[0].check().int == 1 else { return nil }
        return Self.messages(try replies[1].check()).reversed()
    }

    public func clearHistory(user: String, session: String) async throws -> Bool {
        let keys = RedisKeys(user: user)
        return try await redis.eval(RedisScripts.clearHistory, keys: [keys.session(session), keys.messages(session)],
                                    arguments: []).int == 1
    }

    public func deleteSession(user: String, session: String) async throws -> Bool {
        let keys = RedisKeys(user: user)
        return try await redis.eval(RedisScripts.deleteSession,
                                    keys: [keys.session(session), keys.messages(session), keys.sessions],
                                    arguments: [session]).int == 1
    }

    public func deleteAllSessions(user: String) async throws -> Int {
        let keys = RedisKeys(user: user)
        let ids = try await redis.send(RedisCommand("ZRANGE", keys.sessions, 0, -1)).check().array?.compactMap(\.string) ?? []
        guard !ids.isEmpty else { return 0 }
        let replies = try await redis.transaction([
            RedisCommand("DEL", ids.map(keys.session)),
            RedisCommand("DEL", ids.map(keys.messages) + [keys.sessions, keys.usage]),
        ])
        return replies[0].int ?? 0
    }

    public func beginTurn(_ start: TurnStart) async throws -> TurnStartResult {
        do {
            return try await runBegin(start)
        } catch RedisError.timeout(let message) {
            abandonLater(start)
            throw RedisError.timeout(message)
        }
    }

    /// A begin that timed out may still run later (Redis stalled, and reads what was sent once
    /// it resumes). Abandon it, retrying until Redis answers (for up to a minute), so the
    /// session is not left locked and holds no message the client was told was refused.
    private func abandonLater(_ start: TurnStart) {
        Task {
            for _ in 0..<120 {
                do {
                    return try await abandonTurn(start)
                } catch {
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
        }
    }

    private func runBegin(_ start: TurnStart) async throws -> TurnStartResult {
        let keys = RedisKeys(user: start.user)
        let reply = try await redis.eval(
            RedisScripts.beginTurn,
            keys: [keys.session(start.session), keys.messages(start.session), keys.sessions, keys.lock(start.session),
                   keys.abandoned(start.session, token: start.lockToken), keys.agents] + Self.slots(start.quota, keys),
            arguments: [start.lockToken, start.lockMilliseconds, start.window, try Self.json(start.message), cap,
                        ttlSeconds, start.message.timestamp, start.session,
                        SessionInfo.title(from: start.titleMessage.content), start.persona,
                        start.createIfMissing ? "1" : "0", start.maxSessions, start.defaultPersona]
                + Self.slotLimits(start.quota) + [Int(start.message.timestamp * 1000)]
                + (try start.earlier.map(Self.json) as [any RedisArgument]))
        let parts = reply.array ?? []
        switch parts.first?.string {
        case "ok":
            let agent = parts.count > 3 ? parts[3].string.flatMap { try? JSONDecoder().decode(Agent.self, from: Data($0.utf8)) } : nil
            return .started(window: Self.messages(parts.count > 1 ? parts[1] : .array([])),
                            persona: parts.count > 2 ? parts[2].string.flatMap { $0.isEmpty ? nil : $0 } : nil, agent: agent)
        case "busy": return .busy
        case "unknown": return .unknownSession
        case "unknown_agent": return .unknownAgent
        case "streams": return .streamLimit(parts.count > 1 ? parts[1].int ?? 0 : 0)
        case "limit": return .sessionLimit
        case "abandoned": throw RedisError.server("this turn was abandoned")
        default: throw RedisError.protocolError("unexpected reply to beginTurn: \(reply)")
        }
    }

    public func finishTurn(_ finish: TurnFinish) async throws {
        let keys = RedisKeys(user: finish.user)
        let usage = finish.reply.usage
        _ = try await redis.eval(
            RedisScripts.finishTurn,
            keys: [keys.session(finish.session), keys.messages(finish.session), keys.sessions,
                   keys.lock(finish.session), keys.debug(finish.reply.id), keys.usage]
                + Self.slots(finish.quota, keys) + Self.tokenMeters(finish.quota, keys, now: finish.reply.timestamp) + [keys.account],
            arguments: [finish.lockToken, try Self.json(finish.reply), cap, ttlSeconds, finish.reply.timestamp,
                        finish.session, usage?.promptTokens ?? 0, usage?.completionTokens ?? 0,
                        finish.debugCapture ?? "", debugTTLSeconds, finish.reply.id,
                        finish.quota.scopes.isEmpty ? 0 : usage?.totalTokens ?? 0])
    }

    public func abandonTurn(_ start: TurnStart) async throws {
        let keys = RedisKeys(user: start.user)
        _ = try await redis.eval(RedisScripts.abandonTurn,
                                 keys: [keys.session(start.session), keys.messages(start.session), keys.lock(start.session),
                                        keys.abandoned(start.session, token: start.lockToken)] + Self.slots(start.quota, keys),
                                 // Longer than any command can lie unread in a stalled Redis.
                                 arguments: [start.lockToken, start.message.id, 600_000] + start.earlier.map(\.id))
    }

    public func session(user: String, id: String) async throws -> SessionInfo? {
        Self.sessionInfo(id: id, hash: try await redis.send(Self.sessionFields(RedisKeys(user: user).session(id))).check())
    }

    public func appendMessages(user: String, session: String, messages: [ChatMessage], now: Double) async throws -> Bool {
        let keys = RedisKeys(user: user)
        let title = messages.first { $0.role == .user }.map { SessionInfo.title(from: $0.content) } ?? ""
        var arguments: [any RedisArgument] = [cap, ttlSeconds, now, session, title]
        for message in messages { arguments.append(try Self.json(message)) }
        return try await redis.eval(RedisScripts.appendMessages, keys: [keys.session(session), keys.messages(session), keys.sessions],
                                    arguments: arguments).int == 1
    }

    public func deleteMessage(user: String, session: String, messageID: String) async throws -> Bool {
        let keys = RedisKeys(user: user)
        return try await redis.eval(RedisScripts.deleteMessage, keys: [keys.session(session), keys.messages(session)],
                                    arguments: [messageID]).int == 1
    }

    public func document(user: String, session: String, name: SessionDocument) async throws -> String? {
        try await redis.send(RedisCommand("HGET", RedisKeys(user: user).session(session), name.rawValue)).check().string
    }

    public func saveDocument(user: String, session: String, name: SessionDocument, json: String, title: String?,
                             now: Double) async throws -> Bool {
        let keys = RedisKeys(user: user)
        return try await redis.eval(RedisScripts.saveDocument, keys: [keys.session(session), keys.sessions],
                                    arguments: [name.rawValue, json, title ?? "", now, session, ttlSeconds, title == nil ? "0" : "1"]).int == 1
    }

    public func upsertSession(user: String, id: String, title: String?, persona: String?, defaultPersona: String, now: Double,
                              maxSessions: Int) async throws -> SessionUpsert {
        let keys = RedisKeys(user: user)
        let done = try await redis.eval(RedisScripts.upsertSession, keys: [keys.sessions, keys.session(id)],
                                        arguments: [id, now, title ?? "", persona ?? "", maxSessions, ttlSeconds, defaultPersona]).int
        switch done {
        case 1: return .created
        case 2: return .updated
        default: return .limitReached
        }
    }

    public func takeStreamSlots(user: String, quota: TurnQuota, token: String, milliseconds: Int, now: Double) async throws -> Int? {
        let keys = RedisKeys(user: user)
        let full = try await redis.eval(RedisScripts.takeStreamSlots, keys: Self.slots(quota, keys),
                                        arguments: Self.slotLimits(quota) + [Int(now * 1000), token, milliseconds]).int ?? 0
        return full == 0 ? nil : full
    }

    public func releaseStreamSlots(user: String, quota: TurnQuota, token: String, tokens: Int, now: Double) async throws {
        let keys = RedisKeys(user: user)
        _ = try await redis.eval(RedisScripts.releaseStreamSlots,
                                 keys: Self.slots(quota, keys) + Self.tokenMeters(quota, keys, now: now) + [keys.account],
                                 arguments: [token, tokens])
    }

    public func note(user: String, name: UserNote) async throws -> String? {
        try await redis.get(RedisKeys(user: user).note(name.rawValue)).map { String(decoding: $0, as: UTF8.self) }
    }

    public func saveNote(user: String, name: UserNote, value: String, ttlSeconds: Int) async throws {
        _ = try await redis.send(RedisCommand("SET", RedisKeys(user: user).note(name.rawValue), value, "EX", ttlSeconds)).check()
    }

    public func usage(user: String) async throws -> Usage {
        let reply = try await redis.send(RedisCommand("HMGET", RedisKeys(user: user).usage, "prompt_tokens", "completion_tokens")).check()
        let counts = (reply.array ?? []).map { $0.string.flatMap { Int($0) } ?? 0 }
        return Usage(promptTokens: counts.first ?? 0, completionTokens: counts.count > 1 ? counts[1] : 0)
    }

    public func debugCapture(user: String, messageID: String) async throws -> String? {
        try await redis.get(RedisKeys(user: user).debug(messageID)).map { String(decoding: $0, as: UTF8.self) }
    }

    public func ping() async throws { try await redis.ping() }

    // MARK: - Quota

    /// The stream slots of the quota's two scopes (the user's twice when there is no key's).
    static func slots(_ quota: TurnQuota, _ keys: RedisKeys) -> [String] {
        let names = quota.scopes.map(\.name)
        return [keys.streamSlots(names.first ?? "user"), keys.streamSlots(names.last ?? "user")]
    }

    static func slotLimits(_ quota: TurnQuota) -> [any RedisArgument] {
        let limits = quota.scopes.map { $0.limits.concurrentStreams.map(String.init) ?? "" }
        return [limits.first ?? "", limits.count > 1 ? limits[1] : ""]
    }

    static func tokenMeters(_ quota: TurnQuota, _ keys: RedisKeys, now: Double) -> [String] {
        let names = quota.scopes.map(\.name)
        let window = RedisKeys.window(now)
        return [keys.tokenMeter(names.first ?? "user", window: window), keys.tokenMeter(names.last ?? "user", window: window)]
    }

    // MARK: - Encoding

    static func json(_ message: ChatMessage) throws -> [UInt8] {
        Array(try JSONEncoder().encode(message))
    }

    /// Decodes a list reply; an entry that is not a message (written by hand, say) is skipped.
    static func messages(_ value: RedisValue) -> [ChatMessage] {
        (value.array ?? []).compactMap { item in
            guard case .bulk(let bytes) = item else { return nil }
            return ChatMessage(stored: bytes)
        }
    }

    /// The fields a session is listed with (not the documents, which may be large).
    static let listedFields = ["title", "persona", "created_at", "updated_at", "count", "prompt_tokens", "completion_tokens"]

    static func sessionFields(_ key: String) -> RedisCommand {
        RedisCommand("HMGET", [key] + listedFields)
    }

    /// A session from its `sessionFields` reply; nil when it does not exist (no field set).
    static func sessionInfo(id: String, hash: RedisValue) -> SessionInfo? {
        guard let values = hash.array, values.contains(where: { $0.string != nil }) else { return nil }
        var fields: [String: String] = [:]
        for (name, value) in zip(listedFields, values) { fields[name] = value.string }
        return SessionInfo(
            id: id, title: fields["title"] ?? "", persona: fields["persona"] ?? "",
            createdAt: Double(fields["created_at"] ?? "") ?? 0, updatedAt: Double(fields["updated_at"] ?? "") ?? 0,
            messageCount: Int(fields["count"] ?? "") ?? 0,
            usage: Usage(promptTokens: Int(fields["prompt_tokens"] ?? "") ?? 0,
                         completionTokens: Int(fields["completion_tokens"] ?? "") ?? 0))
    }
}
