import ConfabCore
import Foundation
import Hummingbird

/// OpenAI's Responses API with server-side memory, over Confab's sessions: a chain of responses
/// (`previous_response_id`) or a `conversation` is one session, and a stored response is a turn
/// in it, so the model is sent the session's window as with any other door. Kept unless
/// `store: false`; `instructions` count for their own response only, as OpenAI's do.
struct ResponsesController: Sendable {
    typealias Context = ConfabRequestContext
    let completions: ChatCompletions
    var validate: Validation { completions.validate }
    var turns: TurnEnvironment { completions.turns }

    func addRoutes(to router: RouteTable<Context>) {
        router.post("/v1/responses", use: create)
        router.get("/v1/responses/{response_id}", use: retrieve)
        router.delete("/v1/responses/{response_id}", use: delete)
    }

    @Sendable func create(_ request: Request, context: Context) async throws -> Response {
        let owner = Owner.user(try validate.signedIn(context))
        var request = request
        let body = try await validate.decode(ResponseCreateRequest.self, from: &request, maxBytes: validate.settings.maxChatBodyBytes)
        var (turn, response, keptIn) = try await begin(body, owner: owner)
        guard body.stream == true else {
            let transcript = await TurnTranscript.of(turn)
            response.id = OpenAIIDs.response(session: keptIn, message: transcript.messageID)
            response.itemID = OpenAIIDs.item(transcript.messageID)
            response.conversationID = keptIn.map(OpenAIIDs.conversation)
            response.text = transcript.text
            response.usage = transcript.usage
            if let ending = transcript.ending { response.end(ending, error: transcript.error) }
            return try JSONBody.response(response.json)
        }
        return TurnStreamResponse.make(turn, encoder: ResponsesStreamEncoder(response, keptIn: keptIn), request: request,
                                       onDisconnect: validate.settings.onDisconnect)
    }

    /// A response's turn begun from its create body (over HTTP or a WebSocket), with the
    /// response object its events fill in and the session it is kept in (nil with `store: false`).
    func begin(_ body: ResponseCreateRequest, owner: Owner) async throws -> (Turn, ResponseObject, keptIn: String?) {
        guard (body.tools ?? []).isEmpty else {
            throw APIError(.badRequest, code: "unsupported_tools", "tools are not supported on /v1/responses yet; use /v1/chat/completions")
        }
        if body.previousResponseID != nil, body.conversationID != nil {
            throw APIError(.badRequest, code: "conflicting_fields", "previous_response_id cannot be used together with conversation")
        }
        let metadata = try validate.metadata(body.metadata)
        let model = try await completions.models.model(body.model, for: owner)
        let input = try validate.inputMessages(body.input)
        guard let last = input.last, last.role == "user" else {
            throw APIError(.badRequest, code: "invalid_input", "the last input item must be the user's message")
        }
        // System and developer items are this response's instructions; earlier turns join the conversation.
        let instructions = ([body.instructions].compactMap { $0 } + input.filter { $0.role == "system" || $0.role == "developer" }.map(\.text))
            .joined(separator: "\n\n")
        let earlier = input.dropLast().filter { $0.role == "user" || $0.role == "assistant" }

        var session: String?
        if let previous = body.previousResponseID {
            guard let reply = OpenAIIDs.reply(response: previous) else { throw APIError.responseNotFound(previous) }
            session = reply.session
        } else if let conversation = body.conversationID {
            guard let id = OpenAIIDs.session(conversation: conversation) else { throw APIError.conversationNotFound }
            session = id
        }
        let store = body.store ?? true
        let turn: Turn
        do {
            if store {
                let kept = session ?? UUID().uuidString.lowercased()
                let now = Date().timeIntervalSince1970
                turn = try await Turn.begin(user: owner.storeID, session: kept, personaID: model.id, message: last.text,
                                            prompt: .history(instructions: instructions.isEmpty ? nil : instructions),
                                            earlier: earlier.map { $0.stored(at: now) }, temperature: try temperature(body.temperature),
                                            createSession: session == nil,
                                            maxSessions: validate.settings.maxSessionsPerUser, quota: owner.quota, in: turns)
                session = kept
            } else {
                var prompt: [PromptMessage] = []
                if let session {
                    guard let history = try await storage({ try await turns.store.history(user: owner.storeID, session: session) }) else {
                        throw APIError.conversationNotFound
                    }
                    // The same window a stored turn reads (the newest messages).
                    prompt = PromptBuilder.replayed(Array(history.suffix(turns.settings.prompt.window)))
                }
                if !instructions.isEmpty { prompt.insert(PromptMessage(role: "system", content: instructions), at: 0) }
                prompt += (earlier + [last]).map { PromptMessage(role: $0.role, content: $0.text) }
                var persona = model.persona
                persona.temperature = try temperature(body.temperature) ?? persona.temperature
                turn = try await Turn.unstored(user: owner.storeID, persona: persona, prompt: prompt, quota: owner.quota, in: turns)
            }
        } catch let refusal as TurnRefusal {
            guard refusal == .unknownSession else { throw APIError(refusal: refusal) }
            throw body.previousResponseID.map(APIError.responseNotFound) ?? APIError.conversationNotFound
        }
        var response = ResponseObject(id: "", model: model.id, createdAt: Date().timeIntervalSince1970, itemID: "", store: store)
        (response.instructions, response.previousResponseID, response.metadata) = (body.instructions, body.previousResponseID, metadata)
        return (turn, response, store ? session : nil)
    }

    private func temperature(_ value: Double?) throws -> Double? {
        guard let value else { return nil }
        guard (0...2).contains(value) else { throw APIError(.badRequest, code: "invalid_temperature", "temperature must be between 0 and 2") }
        return value
    }

    @Sendable func retrieve(_ request: Request, context: Context) async throws -> Response {
        let owner = Owner.user(try validate.signedIn(context))
        let (reply, session, history) = try await storedReply(context, owner: owner)
        let index = history.firstIndex { $0.id == reply.id }!
        let previous = history[..<index].last { $0.role == .assistant }
        return try JSONBody.response(ResponseObject(reply: reply, session: session, previous: previous).json)
    }

    /// Deletes the reply; the user's message that asked for it stays in the conversation.
    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        let owner = Owner.user(try validate.signedIn(context))
        let id = context.parameters.get("response_id") ?? ""
        let (reply, session, _) = try await storedReply(context, owner: owner)
        guard try await storage({ try await turns.store.deleteMessage(user: owner.storeID, session: session, messageID: reply.id) })
        else { throw APIError.responseNotFound(id) }
        return try JSONBody.response(["id": .string(id), "object": "response", "deleted": true] as JSONValue)
    }

    /// The reply a response id names, in the caller's own sessions.
    private func storedReply(_ context: Context, owner: Owner) async throws -> (ChatMessage, String, [ChatMessage]) {
        let id = context.parameters.get("response_id") ?? ""
        guard let (session, message) = OpenAIIDs.reply(response: id),
              let history = try await storage({ try await turns.store.history(user: owner.storeID, session: session) }),
              let reply = history.first(where: { $0.id == message && $0.role == .assistant })
        else { throw APIError.responseNotFound(id) }
        return (reply, session, history)
    }
}

extension APIError {
    static func responseNotFound(_ id: String) -> APIError {
        APIError(.notFound, code: "response_not_found", "no response with id '\(id.prefix(100))' for this user")
    }

    static let conversationNotFound = APIError(.notFound, code: "conversation_not_found", "no such conversation for this user")
}

extension Validation {
    /// OpenAI's metadata: at most 16 pairs, keys up to 64 characters, values up to 512.
    func metadata(_ metadata: [String: String]?) throws -> [String: String] {
        let metadata = metadata ?? [:]
        guard metadata.count <= 16, metadata.allSatisfy({ $0.key.count <= 64 && $0.value.count <= 512 }) else {
            throw APIError(.badRequest, code: "invalid_metadata", "metadata holds at most 16 pairs, keys up to 64 characters, values up to 512")
        }
        return metadata
    }
}
