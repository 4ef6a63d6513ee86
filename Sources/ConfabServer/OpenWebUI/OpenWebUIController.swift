import ConfabCore
import Foundation
import Hummingbird

/// Open WebUI's API, as its Python client (`openwebui-chat-client`) calls it, over Confab's
/// sessions: a chat is a session (listed in the page's sidebar and every other door), its chat
/// document is kept as the client sends it, and a completion with `chat_id` stores its turn in
/// that session. The client sends the whole history with every completion, so the prompt is
/// what it sent and only the new message and the reply are stored. Errors are Open WebUI's
/// `{"detail": …}`, and expected failures are 4xx: the client retries every 5xx POST.
struct OpenWebUIController: Sendable {
    typealias Context = ConfabRequestContext
    let completions: ChatCompletions
    var validate: Validation { completions.validate }
    var store: any ConversationStore { completions.turns.store }

    /// Open WebUI lists 60 chats a page.
    static let pageSize = 60

    func addRoutes(to router: RouteTable<Context>) {
        router.get("/api/models", use: models)
        router.get("/api/v1/chats/list", use: list)
        router.get("/api/v1/chats/search", use: search)
        router.post("/api/v1/chats/new", use: create)
        router.get("/api/v1/chats/{chat_id}", use: chat)
        router.post("/api/v1/chats/{chat_id}", use: update)
        router.delete("/api/v1/chats/{chat_id}", use: delete)
        router.delete("/api/v1/chats", use: deleteAll)
        router.post("/api/v1/chats/{chat_id}/messages/{message_id}/event", use: messageEvent)
        router.post("/api/chat/completions", use: complete)
    }

    private func owner(_ context: Context) throws -> Owner { .user(try validate.signedIn(context)) }

    @Sendable func models(_ request: Request, context: Context) async throws -> Response {
        let entries = try await completions.models.models(for: try owner(context))
        return try JSONBody.response(["object": "list", "data": .array(entries.map(\.json))] as JSONValue)
    }

    /// `GET /api/v1/chats/list[?page=N]`: newest activity first; all of them without a page.
    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        let owner = try owner(context)
        let sessions = try await page(try await allSessions(owner), request: request)
        return try JSONBody.response(JSONValue.array(sessions.map(OpenWebUIChat.entry)))
    }

    /// `GET /api/v1/chats/search?text=T`: the chats whose title holds T (any case).
    @Sendable func search(_ request: Request, context: Context) async throws -> Response {
        let owner = try owner(context)
        let text = (request.formQuery("text") ?? "").lowercased()
        let matching = try await allSessions(owner).filter { text.isEmpty || $0.title.lowercased().contains(text) }
        return try JSONBody.response(JSONValue.array(try page(matching, request: request).map(OpenWebUIChat.entry)))
    }

    /// `POST /api/v1/chats/new` with `{chat: {title, …}}`: a new session holding the document.
    @Sendable func create(_ request: Request, context: Context) async throws -> Response {
        let owner = try owner(context)
        var request = request
        let document = try await chatDocument(&request)
        let now = Date().timeIntervalSince1970
        let persona = completions.turns.personas.defaultID
        let limit = validate.settings.maxSessionsPerUser
        guard var session = try await storage({
            try await store.createSession(user: owner.storeID, persona: persona, now: now, maxSessions: limit)
        }) else {
            throw APIError(.conflict, code: "session_limit_reached", "this user already has \(limit) chats; delete some first")
        }
        session.title = Self.title(document)
        try await save(document, session: session.id, owner: owner, now: now)
        return try JSONBody.response(OpenWebUIChat.object(session, document: document, history: [], owner: owner))
    }

    @Sendable func chat(_ request: Request, context: Context) async throws -> Response {
        let owner = try owner(context)
        return try JSONBody.response(try await chatObject(try validate.sessionID(context.parameters.get("chat_id")), owner: owner))
    }

    /// `POST /api/v1/chats/{id}` with `{chat: {…}}`: its fields replace the stored document's, as
    /// Open WebUI merges them; the title follows the document's.
    @Sendable func update(_ request: Request, context: Context) async throws -> Response {
        let owner = try owner(context)
        let id = try validate.sessionID(context.parameters.get("chat_id"))
        var request = request
        let changes = try await chatDocument(&request)
        guard case .object(let current)? = try await storedDocument(id, owner: owner), case .object(let new) = changes else {
            try await save(changes, session: id, owner: owner, now: Date().timeIntervalSince1970)
            return try JSONBody.response(try await chatObject(id, owner: owner))
        }
        try await save(.object(current.merging(new) { _, new in new }), session: id, owner: owner, now: Date().timeIntervalSince1970)
        return try JSONBody.response(try await chatObject(id, owner: owner))
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        let owner = try owner(context)
        let id = try validate.sessionID(context.parameters.get("chat_id"))
        guard try await storage({ try await store.deleteSession(user: owner.storeID, session: id) }) else { throw APIError.sessionNotFound }
        return try JSONBody.response(true as JSONValue)
    }

    @Sendable func deleteAll(_ request: Request, context: Context) async throws -> Response {
        let owner = try owner(context)
        _ = try await storage { try await store.deleteAllSessions(user: owner.storeID) }
        return try JSONBody.response(true as JSONValue)
    }

    /// The client reports each message's content here (`{type: "chat:message:delta", data:
    /// {content}}`) and waits on the answer. Its streamed completion does not say which chat it
    /// belongs to, but it is sent just after the event that carries the user's message, so the
    /// event is noted (in Redis, for two minutes): a completion whose last message is that text
    /// is stored in that chat. Replies are stored by the turn, so their events change nothing.
    @Sendable func messageEvent(_ request: Request, context: Context) async throws -> Response {
        let owner = try owner(context)
        let id = try validate.sessionID(context.parameters.get("chat_id"))
        struct Event: Decodable {
            struct Data: Decodable { var content: String? }
            var data: Data?
        }
        var request = request
        let content = try await validate.decode(Event.self, from: &request).data?.content ?? ""
        guard try await storage({ try await store.session(user: owner.storeID, id: id) }) != nil else { throw APIError.sessionNotFound }
        if !content.isEmpty {
            let note: JSONValue = ["chat": .string(id), "content": .string(content)]
            try await storage { try await store.saveNote(user: owner.storeID, name: .openWebUIMessageEvent, value: note.serialized,
                                                         ttlSeconds: 120) }
        }
        return try JSONBody.response(true as JSONValue)
    }

    /// The chat the client's last message event named, when it carried `message`.
    private func notedChat(for message: String?, owner: Owner) async throws -> String? {
        guard let message, !message.isEmpty,
              let note = try await storage({ try await store.note(user: owner.storeID, name: .openWebUIMessageEvent) }),
              let json = try? JSONValue.parse(note), json["content"]?.string == message else { return nil }
        return json["chat"]?.string
    }

    /// `POST /api/chat/completions`: OpenAI's chat completion; with `chat_id` its turn is stored
    /// in that chat. The first streamed turn of a new chat comes padded with placeholder
    /// messages, dropped before the model sees them.
    @Sendable func complete(_ request: Request, context: Context) async throws -> Response {
        let owner = try owner(context)
        var request = request
        let body = try await validate.decode(ChatCompletionRequest.self, from: &request, maxBytes: validate.settings.maxChatBodyBytes)
        let prompt = try validate.conversation(body.messages) { message in
            let text = message.text ?? ""
            return (message.toolCalls ?? []).isEmpty && (text.isEmpty || text == "PLACEHOLDER_USER_MESSAGE")
        }
        var chat = try body.chatID.map { try validate.sessionID($0, field: "chat_id") }
        if chat == nil, body.stream == true, prompt.last?.role == "user" {
            chat = try await notedChat(for: prompt.last?.content, owner: owner)
        }
        let keeping: ChatCompletions.Keeping = chat.map { .session($0, create: false) } ?? .nowhere
        return try await completions.answer(body, owner: owner, prompt: prompt, keeping: keeping, request: request, failure: .init(code: 424, reasonPhrase: "Failed Dependency"))
    }

    // MARK: - Helpers

    private func allSessions(_ owner: Owner) async throws -> [SessionInfo] {
        try await storage { try await store.sessions(user: owner.storeID, limit: validate.settings.maxSessionsPerUser) }
    }

    private func page(_ sessions: [SessionInfo], request: Request) throws -> [SessionInfo] {
        guard let raw = request.query("page") else { return sessions }
        guard let page = Int(raw), (1...1_000_000).contains(page) else {
            throw APIError(.badRequest, code: "invalid_page", "page must be a whole number from 1 to 1000000")
        }
        return Array(sessions.dropFirst((page - 1) * Self.pageSize).prefix(Self.pageSize))
    }

    /// The body's `chat` object, within the chat body limit.
    private func chatDocument(_ request: inout Request) async throws -> JSONValue {
        struct Body: Decodable { var chat: JSONValue }
        let body = try await validate.decode(Body.self, from: &request, maxBytes: validate.settings.maxChatBodyBytes)
        guard case .object = body.chat else { throw APIError(.badRequest, code: "invalid_field", "chat must be an object") }
        return body.chat
    }

    private static func title(_ document: JSONValue) -> String {
        SessionInfo.title(from: document["title"]?.string ?? "New Chat", limit: 200)
    }

    /// Saves the document and the title it gives the session, in one step; a merged document is
    /// held to the same bound as one body, so updates cannot grow it without end.
    private func save(_ document: JSONValue, session: String, owner: Owner, now: Double) async throws {
        let json = document.serialized
        guard json.utf8.count <= validate.settings.maxChatBodyBytes else {
            throw APIError(.contentTooLarge, code: "payload_too_large",
                           "the chat would be over \(validate.settings.maxChatBodyBytes) bytes; start a new chat")
        }
        guard try await storage({
            try await store.saveDocument(user: owner.storeID, session: session, name: .openWebUIChat, json: json,
                                         title: Self.title(document), now: now)
        }) else { throw APIError.sessionNotFound }
    }

    private func storedDocument(_ id: String, owner: Owner) async throws -> JSONValue? {
        try await storage { try await store.document(user: owner.storeID, session: id, name: .openWebUIChat) }
            .flatMap { try? JSONValue.parse($0) }
    }

    private func chatObject(_ id: String, owner: Owner) async throws -> JSONValue {
        guard let session = try await storage({ try await store.session(user: owner.storeID, id: id) }) else { throw APIError.sessionNotFound }
        if let document = try await storedDocument(id, owner: owner) {
            return OpenWebUIChat.object(session, document: document, history: [], owner: owner)
        }
        let history = try await storage { try await store.history(user: owner.storeID, session: id) } ?? []
        return OpenWebUIChat.object(session, document: nil, history: history, owner: owner)
    }
}
