import ConfabCore
import Foundation
import HTTPTypes
import Hummingbird

/// Answers an OpenAI-style chat completion, for both doors that take one (OpenAI's
/// `/v1/chat/completions` and Open WebUI's `/api/chat/completions`). The client sends the whole
/// conversation, so the prompt is what it sent after the persona's (or agent's) system prompt;
/// when the completion belongs to a session, only the new user message and the reply are
/// stored there, so nothing is counted twice.
struct ChatCompletions: Sendable {
    let turns: TurnEnvironment
    let validate: Validation
    let models: ModelCatalog

    /// Where a completion is kept.
    enum Keeping: Sendable {
        /// Nowhere (a stateless completion).
        case nowhere
        /// In this session; `create` makes it when it does not exist.
        case session(String, create: Bool)
    }

    /// The completion as a stream or one JSON body. `failure` is the status a model failure gets
    /// when nothing streamed (Open WebUI's client retries every 5xx POST, so its door uses a 4xx).
    func answer(_ body: ChatCompletionRequest, owner: Owner, prompt: [PromptMessage], keeping: Keeping,
                request: Request, failure: HTTPResponse.Status) async throws -> Response {
        let model = try await models.model(body.model, for: owner)
        let tools = try validate.clientTools(body.tools)
        var persona = model.persona
        if let temperature = body.temperature {
            guard (0...2).contains(temperature) else {
                throw APIError(.badRequest, code: "invalid_temperature", "temperature must be between 0 and 2")
            }
            persona.temperature = temperature
        }
        let turn = try await begin(owner: owner, model: model, persona: persona, prompt: prompt, tools: tools, keeping: keeping)
        let (id, created) = ChatCompletionBody.identity()
        var headers: HTTPFields = [:]
        if turn.stored { headers[.confabSessionID] = turn.session }
        guard body.stream == true else {
            let transcript = await TurnTranscript.of(turn)
            if let error = transcript.error {
                // A kept turn was stored with its error: a retry would run and store it again.
                var retry: HTTPFields = turn.stored ? [.shouldRetry: "false"] : [:]
                retry.append(contentsOf: headers)
                throw APIError(error.code == "shutdown" ? .serviceUnavailable : failure, code: error.code, error.message, headers: retry)
            }
            var response = try JSONBody.response(ChatCompletionBody.make(transcript, id: id, model: model.id, created: created))
            response.headers.append(contentsOf: headers)
            return response
        }
        let encoder = ChatCompletionEncoder(id: id, model: model.id, created: created,
                                            includeUsage: body.streamOptions?.includeUsage == true, clientTools: turn.toolsRunByClient)
        var response = TurnStreamResponse.make(turn, encoder: encoder, request: request, onDisconnect: validate.settings.onDisconnect)
        response.headers.append(contentsOf: headers)
        return response
    }

    private func begin(owner: Owner, model: ModelCatalog.Entry, persona: Persona, prompt: [PromptMessage], tools: [ToolSpec],
                       keeping: Keeping) async throws -> Turn {
        do {
            switch keeping {
            case .nowhere:
                return try await Turn.unstored(user: owner.storeID, persona: persona, prompt: prompt, clientTools: tools, quota: owner.quota,
                                         in: turns)
            case .session(let session, let create):
                guard let last = prompt.last, last.role == "user", let message = last.content else {
                    throw APIError(.badRequest, code: "invalid_messages", "a stored completion's last message must be the user's")
                }
                return try await Turn.begin(user: owner.storeID, session: session, personaID: model.id, message: message,
                                            prompt: .given(prompt), clientTools: tools, temperature: persona.temperature,
                                            createSession: create,
                                            maxSessions: validate.settings.maxSessionsPerUser, quota: owner.quota, in: turns)
            }
        } catch let refusal as TurnRefusal {
            throw APIError(refusal: refusal)
        }
    }
}

extension HTTPField.Name {
    /// The session a stored completion went to (and, sent by a client, the one it goes to).
    static let confabSessionID = HTTPField.Name("X-Confab-Session-Id")!
    /// `true` from a client: keep this completion as a new session.
    static let confabStore = HTTPField.Name("X-Confab-Store")!
    /// OpenAI's SDK retries no request answered with `x-should-retry: false`.
    static let shouldRetry = HTTPField.Name("x-should-retry")!
}
