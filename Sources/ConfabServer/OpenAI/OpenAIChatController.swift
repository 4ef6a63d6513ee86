import ConfabCore
import Foundation
import Hummingbird

/// OpenAI's chat API, as the `openai` SDK and every OpenAI-compatible client use it (`base_url`
/// ending in `/v1`): the models a caller may name, and stateless chat completions, streamed or
/// not. A completion is kept only when asked: `X-Confab-Store: true` makes it a new session
/// (its id comes back in `X-Confab-Session-Id`), and `X-Confab-Session-Id: <id>` keeps it in
/// that session.
struct OpenAIChatController: Sendable {
    typealias Context = ConfabRequestContext
    let completions: ChatCompletions
    var validate: Validation { completions.validate }
    var models: ModelCatalog { completions.models }

    func addRoutes(to router: RouteTable<Context>) {
        router.get("/v1/models", use: listModels)
        router.get("/v1/models/{model}", use: model)
        router.post("/v1/chat/completions", use: create)
    }

    @Sendable func listModels(_ request: Request, context: Context) async throws -> Response {
        let owner = Owner.user(try validate.signedIn(context))
        let entries = try await models.models(for: owner)
        return try JSONBody.response(["object": "list", "data": .array(entries.map(\.json))] as JSONValue)
    }

    @Sendable func model(_ request: Request, context: Context) async throws -> Response {
        let owner = Owner.user(try validate.signedIn(context))
        return try JSONBody.response(try await models.model(context.parameters.get("model"), for: owner).json)
    }

    @Sendable func create(_ request: Request, context: Context) async throws -> Response {
        let owner = Owner.user(try validate.signedIn(context))
        var request = request
        let body = try await validate.decode(ChatCompletionRequest.self, from: &request, maxBytes: validate.settings.maxChatBodyBytes)
        let prompt = try validate.conversation(body.messages)
        let keeping: ChatCompletions.Keeping
        if let session = request.headers[.confabSessionID] {
            keeping = .session(try validate.sessionID(session, field: "X-Confab-Session-Id"), create: true)
        } else if request.headers[.confabStore]?.lowercased() == "true" {
            keeping = .session(UUID().uuidString.lowercased(), create: true)
        } else {
            keeping = .nowhere
        }
        return try await completions.answer(body, owner: owner, prompt: prompt, keeping: keeping, request: request, failure: .badGateway)
    }
}
