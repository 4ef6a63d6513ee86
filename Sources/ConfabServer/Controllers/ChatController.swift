import ConfabCore
import Foundation
import HTTPTypes
import Hummingbird

/// Starting chats, streaming replies, reading and clearing history.
struct ChatController: Sendable {
    typealias Context = ConfabRequestContext
    let turns: TurnEnvironment
    let validate: Validation
    let accounts: any AccountStore

    var store: any ConversationStore { turns.store }

    func addRoutes(to router: RouteTable<Context>) {
        router.post("/chat/start", use: start)
        router.get("/chat/stream", use: streamFromQuery)
        router.post("/chat/stream", use: streamFromBody)
        router.get("/chat/history", use: history)
        router.delete("/chat/history/{session_id}", use: clearHistory)
        router.get("/chat/debug/{message_id}", use: debugCapture)
    }

    /// `POST /chat/start` — user_id (and optionally role or agent_id) in the query or a JSON body.
    @Sendable func start(_ request: Request, context: Context) async throws -> Response {
        var request = request
        let fields = try await validate.jsonFields(&request, ["user_id", "role", "agent_id"])
        let given = try validate.oneOf(body: fields["user_id"], query: request.query("user_id")) { $0 }
        let owner = try validate.owner(context, given: given)
        let role = try validate.oneOf(body: fields["role"], query: request.query("role")) { $0 }
        let agentID = try validate.oneOf(body: fields["agent_id"], query: request.query("agent_id")) { $0 }
        let chosen = try validate.chatPersona(role: role, agentID: agentID, owner: owner)
        let persona = try await resolve(chosen, owner: owner)
        let limit = validate.settings.maxSessionsPerUser
        let created = try await storage {
            try await store.createSession(user: owner.storeID, persona: persona.id, now: Date().timeIntervalSince1970, maxSessions: limit)
        }
        guard let session = created else {
            throw APIError(.conflict, code: "session_limit_reached",
                           "this user already has \(limit) sessions; delete some (DELETE /chat/sessions/{id}) first")
        }
        return try JSONBody.response(StartReply(sessionID: session.id, userID: owner.shownID,
                                                welcomeMessage: "Hello! I'm \(persona.name). How can I help?",
                                                persona: persona.id, session: session))
    }

    /// The persona or the owner's agent a new session plays (404 for an agent that is not theirs).
    private func resolve(_ id: String?, owner: Owner) async throws -> Persona {
        guard let id, id.hasPrefix(Agent.idPrefix) else { return try validate.persona(id) }
        guard let agent = try await storage({ try await accounts.agent(user: owner.storeID, id: id) }) else { throw APIError.agentNotFound }
        return turns.persona(id, agent: agent)
    }

    /// `GET /chat/stream?user_id=&session_id=&message=&role=` for EventSource.
    @Sendable func streamFromQuery(_ request: Request, context: Context) async throws -> Response {
        // Parsed once: each look-up of `uri.queryParameters` parses the query again.
        let parameters = request.uri.queryParameters
        return try await stream(request, context: context, fields: { parameters[$0[...]].map(String.init) })
    }

    /// `POST /chat/stream` with the same fields as JSON, for messages too long for a URL.
    @Sendable func streamFromBody(_ request: Request, context: Context) async throws -> Response {
        var request = request
        let fields = try await validate.jsonFields(&request, ["user_id", "session_id", "message", "role", "agent_id", "format"])
        return try await stream(request, context: context, fields: { fields[$0] })
    }

    /// `format=ai-sdk` (or the header `X-Confab-Stream: ai-sdk`) streams the AI SDK's UI
    /// message stream instead of Confab's own.
    private func stream(_ request: Request, context: Context, fields: (String) -> String?) async throws -> Response {
        let requested = fields("format") ?? request.headers[HTTPField.Name("X-Confab-Stream")!]
        let owner = try validate.owner(context, given: fields("user_id"))
        let start = try await beginTurn(owner, fields: { $0 == "format" ? requested : fields($0) })
        let policy = validate.settings.onDisconnect
        return switch start.format {
        case .confab: TurnStreamResponse.make(start.turn, encoder: ConfabStreamEncoder(), request: request, onDisconnect: policy)
        case .aiSDK: TurnStreamResponse.make(start.turn, encoder: UIMessageStreamEncoder(), request: request, onDisconnect: policy)
        }
    }

    /// A chat turn from a request's fields (`session_id`, `message`, `role`, `agent_id`,
    /// `format`), at any transport; `sessions` says what a missing session means. A session the
    /// turn makes is made in the same round trip.
    func beginTurn(_ owner: Owner, fields: (String) -> String?, sessions: SessionRule = .mustExist) async throws -> ChatTurnStart {
        let given = fields("session_id")
        if given == nil, sessions == .mustExist { throw APIError.missing("session_id") }
        let session = try given.map { try validate.sessionID($0) } ?? UUID().uuidString.lowercased()
        let message = try validate.message(fields("message"))
        // Neither role nor agent: the session's own.
        let persona = try validate.chatPersona(role: fields("role"), agentID: fields("agent_id"), owner: owner)
        guard let format = StreamFormat(requested: fields("format")) else {
            throw APIError(.badRequest, code: "unknown_format", "format must be confab or ai-sdk")
        }
        do {
            let turn = try await Turn.begin(user: owner.storeID, session: session, personaID: persona, message: message,
                                            createSession: given == nil || sessions == .madeOnFirstUse, maxSessions: validate.settings.maxSessionsPerUser,
                                            quota: owner.quota, in: turns)
            return ChatTurnStart(turn: turn, format: format, createdSession: given == nil)
        } catch {
            throw APIError(refusal: error)
        }
    }

    /// `GET /chat/history?user_id=&session_id=` — oldest first.
    @Sendable func history(_ request: Request, context: Context) async throws -> Response {
        let owner = try validate.owner(context, given: request.query("user_id"))
        let session = try validate.sessionID(request.query("session_id"))
        let messages = try await storage { try await store.history(user: owner.storeID, session: session) }
        guard let messages else { throw APIError.sessionNotFound }
        return try JSONBody.response(HistoryReply(sessionID: session, messages: messages, total: messages.count))
    }

    /// `DELETE /chat/history/{session_id}?user_id=` — empties the history, keeps the session.
    @Sendable func clearHistory(_ request: Request, context: Context) async throws -> Response {
        try await validate.onPathSession(request, context, done: "history cleared") { user, session in
            try await store.clearHistory(user: user, session: session)
        }
    }

    /// `GET /chat/debug/{message_id}?user_id=` — the raw upstream exchange, when capture is on.
    @Sendable func debugCapture(_ request: Request, context: Context) async throws -> Response {
        let owner = try validate.owner(context, given: request.query("user_id"))
        guard let id = context.parameters.get("message_id"), UUID(uuidString: id) != nil else {
            throw APIError(.badRequest, code: "invalid_message_id", "message_id must be a UUID")
        }
        let capture = try await storage { try await store.debugCapture(user: owner.storeID, messageID: id.lowercased()) }
        guard let capture else {
            throw APIError(.notFound, code: "capture_not_found", "no debug capture for this message (is CONFAB_DEBUG_CAPTURE on?)")
        }
        return Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(string: capture)))
    }
}

/// What a chat turn's `session_id` must name.
enum SessionRule: Sendable {
    /// A session that exists (the HTTP stream).
    case mustExist
    /// One that exists, or with no `session_id` a new one (the WebSocket).
    case newWhenAbsent
    /// Any id: a session is made on its first turn (a bot's chat, whose id Confab derives).
    case madeOnFirstUse
}

/// A begun chat turn and how its client wants it streamed.
struct ChatTurnStart: Sendable {
    let turn: Turn
    let format: StreamFormat
    /// The turn made its session (a WebSocket chat without `session_id`).
    let createdSession: Bool
}

struct StartReply: Encodable {
    var sessionID: String
    /// Whose session it is (the user_id came in the query or the body).
    var userID: String
    var welcomeMessage: String
    var persona: String
    var session: SessionInfo

    enum CodingKeys: String, CodingKey {
        case persona, session
        case sessionID = "session_id"
        case userID = "user_id"
        case welcomeMessage = "welcome_message"
    }
}

struct HistoryReply: Encodable {
    var sessionID: String
    var messages: [ChatMessage]
    var total: Int

    enum CodingKeys: String, CodingKey {
        case messages, total
        case sessionID = "session_id"
    }
}

extension APIError {
    init(refusal: TurnRefusal) {
        switch refusal {
        case .unknownPersona(let id): self.init(.badRequest, code: "unknown_persona", "unknown role '\(id)'")
        case .unknownAgent: self = .agentNotFound
        case .streamLimit(let limit): self = .rateLimited(RateLimitState(kind: .streams, limit: limit, remaining: 0, resetSeconds: 1))
        case .unknownSession: self = .sessionNotFound
        case .sessionLimit: self.init(.conflict, code: "session_limit_reached", "this user has the most sessions allowed; delete some first")
        case .busy: self.init(.conflict, code: "session_busy", "a reply is already streaming for this session")
        case .shuttingDown: self = .shuttingDown
        case .storeUnavailable(let message): self = .storeUnavailable(message)
        }
    }
}
