/// Sessions and their history (`/chat/start`, `/chat/sessions`, `/chat/history`).
extension ConfabClient {
    /// The caller's sessions, newest activity first; at most `limit` (the server's maximum when nil).
    public func sessions(limit: Int? = nil) async throws -> [Session] {
        let query = limit.map { ["limit": String($0)] } ?? [:]
        return try await send(.GET, "/chat/sessions", query: query, as: SessionList.self).sessions
    }

    /// One session with its token usage; 404 (`session_not_found`) when it is not the caller's.
    public func session(id: String) async throws -> Session {
        try await send(.GET, "/chat/sessions/\(Self.segment(id))")
    }

    /// Starts a session playing one of the caller's agents, a built-in role, or the default persona.
    public func startSession(agentID: String? = nil, role: String? = nil) async throws -> SessionStart {
        try await send(.POST, "/chat/start", body: StartRequest(agentID: agentID, role: role))
    }

    /// Creates the session `id` (a UUID the caller made) or changes its title or persona.
    public func updateSession(id: String, title: String? = nil, persona: String? = nil, agentID: String? = nil) async throws -> Session {
        try await send(.PUT, "/chat/sessions/\(Self.segment(id))",
                       body: SessionUpdate(title: title, persona: persona, agentID: agentID))
    }

    /// Deletes a session and its history.
    public func deleteSession(id: String) async throws {
        _ = try await send(.DELETE, "/chat/sessions/\(Self.segment(id))", as: JSONValue.self)
    }

    /// Deletes every session of the caller; answers how many there were.
    public func deleteAllSessions() async throws -> Int {
        try await send(.DELETE, "/chat/sessions", as: DeletedCount.self).deleted
    }

    /// A session's messages, oldest first.
    public func history(sessionID: String) async throws -> History {
        try await send(.GET, "/chat/history", query: ["session_id": sessionID])
    }
}

private struct SessionList: Decodable {
    var sessions: [Session]
}

private struct DeletedCount: Decodable {
    var deleted: Int
}

private struct StartRequest: Encodable {
    var agentID: String?
    var role: String?

    enum CodingKeys: String, CodingKey {
        case role
        case agentID = "agent_id"
    }
}

private struct SessionUpdate: Encodable {
    var title: String?
    var persona: String?
    var agentID: String?

    enum CodingKeys: String, CodingKey {
        case title, persona
        case agentID = "agent_id"
    }
}
