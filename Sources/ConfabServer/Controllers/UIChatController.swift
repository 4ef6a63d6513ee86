import ConfabCore
import Foundation
import Hummingbird

/// The Vercel AI SDK's `useChat` front door: `POST /api/chat` takes the body useChat sends by
/// default and answers with the UI message stream; `GET /api/chat/{id}/stream` is where
/// useChat asks to resume (nothing to resume yet: 204).
struct UIChatController: Sendable {
    typealias Context = ConfabRequestContext
    let turns: TurnEnvironment
    let validate: Validation

    func addRoutes(to router: RouteTable<Context>) {
        router.post("/api/chat", use: chat)
        router.get("/api/chat/{id}/stream", use: resume)
    }

    /// `POST /api/chat?user_id=` with `{id, messages, trigger, messageId?, persona?}`. The chat
    /// id is the session, made on first use; only the last user message is new input (Confab
    /// keeps the history itself, so what the client sends of it is not trusted).
    @Sendable func chat(_ request: Request, context: Context) async throws -> Response {
        var request = request
        // useChat sends the whole chat each time: a larger limit than other bodies, still bounded.
        let body = try await validate.decode(UIChatRequest.self, from: &request, maxBytes: validate.settings.maxChatBodyBytes)
        let owner = try validate.owner(context, given: try validate.oneOf(body: body.userID, query: request.query("user_id")) { $0 })
        let session = try validate.sessionID(body.id, field: "id")
        guard let last = body.messages.last else {
            throw APIError(.badRequest, code: "invalid_messages", "messages must hold at least the new user message")
        }
        guard last.role == "user" else {
            throw APIError(.badRequest, code: "invalid_messages", "the last message must be the user's (role \"user\")")
        }
        let message = try validate.message(last.text)
        guard body.trigger == nil || body.trigger == "submit-message" else {
            throw APIError(.badRequest, code: "unsupported_trigger",
                           "only trigger \"submit-message\" is supported; regenerating a reply is not yet")
        }
        // None named: the session's own persona (a new session gets the default).
        let persona = try validate.chatPersona(role: body.persona, agentID: body.agentID, owner: owner)
        let turn: Turn
        do {
            turn = try await Turn.begin(user: owner.storeID, session: session, personaID: persona, message: message, createSession: true,
                                        maxSessions: validate.settings.maxSessionsPerUser, quota: owner.quota, in: turns)
        } catch {
            throw APIError(refusal: error)
        }
        return TurnStreamResponse.make(turn, encoder: UIMessageStreamEncoder(), request: request,
                                       onDisconnect: validate.settings.onDisconnect)
    }

    /// `GET /api/chat/{id}/stream` — useChat's resume request: 204, no stream to resume.
    @Sendable func resume(_ request: Request, context: Context) async throws -> Response {
        if context.identity == nil, validate.settings.identity.mode == .required { throw APIError.credentialsRequired }
        _ = try validate.sessionID(context.parameters.get("id"), field: "id")
        return Response(status: .noContent)
    }
}

/// The body useChat sends (`DefaultChatTransport`): fields this version does not read are ignored.
struct UIChatRequest: Decodable {
    var id: String
    var messages: [UIMessage]
    var trigger: String?
    var messageId: String?
    /// Added by useChat's `body` option: which persona answers.
    var persona: String?
    /// Or which of the user's agents.
    var agentID: String?
    var userID: String?

    enum CodingKeys: String, CodingKey {
        case id, messages, trigger, messageId, persona
        case agentID = "agent_id"
        case userID = "user_id"
    }
}

/// A message as useChat keeps it: `{id, role, parts}`; only text parts are read.
struct UIMessage: Decodable {
    struct Part: Decodable {
        var type: String
        var text: String?
    }

    var id: String?
    var role: String
    var parts: [Part]?
    /// AI SDK 4's shape, still sent by some clients.
    var content: String?

    /// The message's text: its text parts joined, or `content`; nil when it has none.
    var text: String? {
        let texts = (parts ?? []).filter { $0.type == "text" }.compactMap(\.text)
        if !texts.isEmpty { return texts.joined(separator: "\n") }
        return content
    }
}
