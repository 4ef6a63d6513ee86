import ConfabCore
import Foundation
import Hummingbird

/// A user's sessions: list, fetch one, create or update one (the client picks the id), delete
/// one, delete all; and the user's token usage.
struct SessionsController: Sendable {
    typealias Context = ConfabRequestContext
    let store: any ConversationStore
    let validate: Validation
    let accounts: any AccountStore

    func addRoutes(to router: RouteTable<Context>) {
        router.get("/chat/sessions", use: list)
        router.delete("/chat/sessions", use: deleteAll)
        router.get("/chat/sessions/{session_id}", use: fetch)
        router.put("/chat/sessions/{session_id}", use: upsert)
        router.delete("/chat/sessions/{session_id}", use: delete)
        router.get("/chat/usage", use: usage)
    }

    /// `GET /chat/sessions/{session_id}?user_id=` — the session with its token usage.
    @Sendable func fetch(_ request: Request, context: Context) async throws -> Response {
        let owner = try validate.owner(context, given: request.query("user_id"))
        let id = try validate.sessionID(context.parameters.get("session_id"))
        guard let session = try await storage({ try await store.session(user: owner.storeID, id: id) }) else { throw APIError.sessionNotFound }
        return try JSONBody.response(session)
    }

    /// `PUT /chat/sessions/{session_id}?user_id=` with `{title?, persona? | agent_id?}` — creates the session
    /// under the client's id (201) or updates it (200); answers the session.
    @Sendable func upsert(_ request: Request, context: Context) async throws -> Response {
        var request = request
        let owner = try validate.owner(context, given: request.query("user_id"))
        let id = try validate.sessionID(context.parameters.get("session_id"))
        let body = try await validate.decode(SessionUpdate.self, from: &request)
        if let title = body.title, title.count > 200 {
            throw APIError(.badRequest, code: "invalid_field", "title must be at most 200 characters")
        }
        let persona = try validate.chatPersona(role: body.persona, agentID: body.agentID, owner: owner)
        if let persona, persona.hasPrefix(Agent.idPrefix),
           try await storage({ try await accounts.agent(user: owner.storeID, id: persona) }) == nil {
            throw APIError.agentNotFound
        }
        let limit = validate.settings.maxSessionsPerUser
        let done = try await storage {
            try await store.upsertSession(user: owner.storeID, id: id, title: body.title, persona: persona,
                                          defaultPersona: validate.personas.defaultID,
                                          now: Date().timeIntervalSince1970, maxSessions: limit)
        }
        guard done != .limitReached else {
            throw APIError(.conflict, code: "session_limit_reached", "this user already has \(limit) sessions; delete some first")
        }
        guard let session = try await storage({ try await store.session(user: owner.storeID, id: id) }) else { throw APIError.sessionNotFound }
        return try JSONBody.response(session, status: done == .created ? .created : .ok)
    }

    /// `GET /chat/usage?user_id=` — the user's tokens over all sessions.
    @Sendable func usage(_ request: Request, context: Context) async throws -> Response {
        let owner = try validate.owner(context, given: request.query("user_id"))
        let usage = try await storage { try await store.usage(user: owner.storeID) }
        return try JSONBody.response(UserUsage(userID: owner.shownID, usage: usage))
    }

    /// `GET /chat/sessions?user_id=[&limit=]` — newest activity first.
    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        let owner = try validate.owner(context, given: request.query("user_id"))
        let maximum = validate.settings.sessionListLimit
        var limit = maximum
        if let raw = request.query("limit") {
            guard let value = Int(raw), (1...maximum).contains(value) else {
                throw APIError(.badRequest, code: "invalid_limit", "limit must be a whole number from 1 to \(maximum)")
            }
            limit = value
        }
        let sessions = try await storage { try await store.sessions(user: owner.storeID, limit: limit) }
        return try JSONBody.response(SessionList(sessions: sessions, total: sessions.count))
    }

    /// `DELETE /chat/sessions/{session_id}?user_id=` — the session and its history.
    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        try await validate.onPathSession(request, context, done: "session deleted") { user, session in
            try await store.deleteSession(user: user, session: session)
        }
    }

    /// `DELETE /chat/sessions?user_id=` — every session of the user; says how many.
    @Sendable func deleteAll(_ request: Request, context: Context) async throws -> Response {
        let owner = try validate.owner(context, given: request.query("user_id"))
        let count = try await storage { try await store.deleteAllSessions(user: owner.storeID) }
        return try JSONBody.response(["deleted": count])
    }
}

/// `PUT /chat/sessions/{id}`'s body; every field may be left out (kept as it is).
struct SessionUpdate: Decodable {
    var title: String?
    var persona: String?
    var agentID: String?

    enum CodingKeys: String, CodingKey {
        case title, persona
        case agentID = "agent_id"
    }
}

struct UserUsage: Encodable {
    var userID: String
    var usage: Usage

    enum CodingKeys: String, CodingKey {
        case usage
        case userID = "user_id"
    }
}

struct SessionList: Encodable {
    var sessions: [SessionInfo]
    var total: Int
}
