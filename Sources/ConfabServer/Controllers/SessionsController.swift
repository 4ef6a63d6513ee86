import ConfabCore
import Hummingbird

/// A user's sessions: list, delete one, delete all.
struct SessionsController<Context: RequestContext>: Sendable {
    let store: any ConversationStore
    let validate: Validation

    func addRoutes(to router: RouteTable<Context>) {
        router.get("/chat/sessions", use: list)
        router.delete("/chat/sessions", use: deleteAll)
        router.delete("/chat/sessions/{session_id}", use: delete)
    }

    /// `GET /chat/sessions?user_id=[&limit=]` — newest activity first.
    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        let user = try validate.userID(request.query("user_id"))
        let maximum = validate.settings.sessionListLimit
        var limit = maximum
        if let raw = request.query("limit") {
            guard let value = Int(raw), (1...maximum).contains(value) else {
                throw APIError(.badRequest, code: "invalid_limit", "limit must be a whole number from 1 to \(maximum)")
            }
            limit = value
        }
        let sessions = try await storage { try await store.sessions(user: user, limit: limit) }
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
        let user = try validate.userID(request.query("user_id"))
        let count = try await storage { try await store.deleteAllSessions(user: user) }
        return try JSONBody.response(["deleted": count])
    }
}

struct SessionList: Encodable {
    var sessions: [SessionInfo]
    var total: Int
}
