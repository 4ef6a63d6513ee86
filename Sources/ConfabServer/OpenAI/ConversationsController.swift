import ConfabCore
import Foundation
import Hummingbird

/// OpenAI's Conversations API over Confab's sessions: a conversation is a session (it shows in
/// the page's sidebar and every other door), its items are the session's messages, its metadata
/// a document kept with it. Items page as OpenAI's do: `after`, `limit` (1–100, 20), `order`
/// (`desc` by default).
struct ConversationsController: Sendable {
    typealias Context = ConfabRequestContext
    let turns: TurnEnvironment
    let validate: Validation
    var store: any ConversationStore { turns.store }

    func addRoutes(to router: RouteTable<Context>) {
        router.post("/v1/conversations", use: create)
        router.get("/v1/conversations/{conversation_id}", use: retrieve)
        router.post("/v1/conversations/{conversation_id}", use: update)
        router.delete("/v1/conversations/{conversation_id}", use: delete)
        router.get("/v1/conversations/{conversation_id}/items", use: listItems)
        router.post("/v1/conversations/{conversation_id}/items", use: addItems)
        router.get("/v1/conversations/{conversation_id}/items/{item_id}", use: item)
        router.delete("/v1/conversations/{conversation_id}/items/{item_id}", use: deleteItem)
    }

    private struct CreateBody: Decodable {
        var items: JSONValue?
        var metadata: [String: String]?
    }

    /// `{items?, metadata?}`: at most 20 items, as OpenAI allows.
    @Sendable func create(_ request: Request, context: Context) async throws -> Response {
        let owner = Owner.user(try validate.signedIn(context))
        var request = request
        let body = try await decodeOptional(CreateBody.self, from: &request) ?? CreateBody()
        let metadata = try validate.metadata(body.metadata)
        let items = body.items == nil || body.items == .array([]) ? [] : try validate.inputMessages(body.items, field: "items", limit: 20, storable: true)
        let now = Date().timeIntervalSince1970
        let limit = validate.settings.maxSessionsPerUser
        guard let session = try await storage({
            try await store.createSession(user: owner.storeID, persona: turns.personas.defaultID, now: now, maxSessions: limit)
        }) else { throw APIError(refusal: .sessionLimit) }
        _ = try await storage { try await store.saveDocument(user: owner.storeID, session: session.id, name: .conversationMetadata,
                                                            json: JSONValue.object(metadata.mapValues(JSONValue.string)).serialized,
                                                            title: nil, now: now) }
        if !items.isEmpty {
            _ = try await storage { try await store.appendMessages(user: owner.storeID, session: session.id,
                                                                  messages: Self.messages(items, now: now), now: now) }
        }
        return try JSONBody.response(Self.object(session, metadata: metadata))
    }

    @Sendable func retrieve(_ request: Request, context: Context) async throws -> Response {
        let owner = Owner.user(try validate.signedIn(context))
        let (session, metadata) = try await conversation(context, owner: owner)
        return try JSONBody.response(Self.object(session, metadata: metadata))
    }

    /// `{metadata}`: replaces the conversation's metadata.
    @Sendable func update(_ request: Request, context: Context) async throws -> Response {
        let owner = Owner.user(try validate.signedIn(context))
        struct Body: Decodable { var metadata: [String: String] }
        var request = request
        let metadata = try validate.metadata(try await validate.decode(Body.self, from: &request).metadata)
        let (session, _) = try await conversation(context, owner: owner)
        guard try await storage({ try await store.saveDocument(user: owner.storeID, session: session.id, name: .conversationMetadata,
                                                               json: JSONValue.object(metadata.mapValues(JSONValue.string)).serialized,
                                                               title: nil, now: Date().timeIntervalSince1970) })
        else { throw APIError.conversationNotFound }
        return try JSONBody.response(Self.object(session, metadata: metadata))
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        let owner = Owner.user(try validate.signedIn(context))
        let id = try sessionID(context)
        guard try await storage({ try await store.deleteSession(user: owner.storeID, session: id) }) else { throw APIError.conversationNotFound }
        return try JSONBody.response(["id": .string(OpenAIIDs.conversation(id)), "object": "conversation.deleted", "deleted": true] as JSONValue)
    }

    @Sendable func listItems(_ request: Request, context: Context) async throws -> Response {
        let owner = Owner.user(try validate.signedIn(context))
        let limit = try request.query("limit").map { raw -> Int in
            guard let limit = Int(raw), (1...100).contains(limit) else {
                throw APIError(.badRequest, code: "invalid_limit", "limit must be a whole number from 1 to 100")
            }
            return limit
        } ?? 20
        let order = request.query("order") ?? "desc"
        guard order == "asc" || order == "desc" else { throw APIError(.badRequest, code: "invalid_order", "order must be asc or desc") }
        var messages = try await history(context, owner: owner)
        if order == "desc" { messages.reverse() }
        if let after = request.query("after") {
            guard let message = OpenAIIDs.message(item: after), let index = messages.firstIndex(where: { $0.id == message }) else {
                throw APIError(.badRequest, code: "invalid_after", "after must name an item of this conversation")
            }
            messages.removeFirst(index + 1)
        }
        let page = messages.prefix(limit).map(ConversationItem.of)
        return try JSONBody.response(Self.list(page, hasMore: messages.count > limit))
    }

    /// `{items}`: appended after the conversation's newest item.
    @Sendable func addItems(_ request: Request, context: Context) async throws -> Response {
        let owner = Owner.user(try validate.signedIn(context))
        struct Body: Decodable { var items: JSONValue }
        var request = request
        let items = try validate.inputMessages(try await validate.decode(Body.self, from: &request).items, field: "items", limit: 20,
                                               storable: true)
        let id = try sessionID(context)
        let now = Date().timeIntervalSince1970
        let messages = Self.messages(items, now: now)
        guard try await storage({ try await store.appendMessages(user: owner.storeID, session: id, messages: messages, now: now) })
        else { throw APIError.conversationNotFound }
        return try JSONBody.response(Self.list(messages.map(ConversationItem.of), hasMore: false))
    }

    @Sendable func item(_ request: Request, context: Context) async throws -> Response {
        let owner = Owner.user(try validate.signedIn(context))
        let messages = try await history(context, owner: owner)
        guard let id = OpenAIIDs.message(item: context.parameters.get("item_id") ?? ""), let message = messages.first(where: { $0.id == id })
        else { throw APIError.itemNotFound }
        return try JSONBody.response(ConversationItem.of(message))
    }

    /// Answers the conversation, as OpenAI does.
    @Sendable func deleteItem(_ request: Request, context: Context) async throws -> Response {
        let owner = Owner.user(try validate.signedIn(context))
        let id = try sessionID(context)
        var (session, metadata) = try await conversation(context, owner: owner)
        guard let message = OpenAIIDs.message(item: context.parameters.get("item_id") ?? ""),
              try await storage({ try await store.deleteMessage(user: owner.storeID, session: id, messageID: message) })
        else { throw APIError.itemNotFound }
        session.messageCount -= 1
        return try JSONBody.response(Self.object(session, metadata: metadata))
    }

    // MARK: - Helpers

    private func sessionID(_ context: Context) throws -> String {
        guard let id = OpenAIIDs.session(conversation: context.parameters.get("conversation_id") ?? "") else {
            throw APIError.conversationNotFound
        }
        return id
    }

    private func conversation(_ context: Context, owner: Owner) async throws -> (SessionInfo, [String: String]) {
        let id = try sessionID(context)
        guard let session = try await storage({ try await store.session(user: owner.storeID, id: id) }) else {
            throw APIError.conversationNotFound
        }
        let document = try await storage { try await store.document(user: owner.storeID, session: id, name: .conversationMetadata) }
        let metadata = document.flatMap { try? JSONValue.parse($0) }.flatMap { value -> [String: String]? in
            guard case .object(let members) = value else { return nil }
            return members.compactMapValues(\.string)
        }
        return (session, metadata ?? [:])
    }

    private func history(_ context: Context, owner: Owner) async throws -> [ChatMessage] {
        let id = try sessionID(context)
        guard let messages = try await storage({ try await store.history(user: owner.storeID, session: id) }) else {
            throw APIError.conversationNotFound
        }
        return messages
    }

    /// A body that may be absent (`conversations.create()` with nothing sends `{}` or nothing).
    private func decodeOptional<T: Decodable>(_ type: T.Type, from request: inout Request) async throws -> T? {
        let buffer = try await request.collectBody(upTo: validate.settings.maxBodyBytes)
        guard buffer.readableBytes > 0 else { return nil }
        return try await validate.decode(type, from: &request)
    }

    private static func messages(_ items: [InputMessage], now: Double) -> [ChatMessage] {
        items.map { $0.stored(at: now) }
    }

    private static func object(_ session: SessionInfo, metadata: [String: String]) -> JSONValue {
        ["id": .string(OpenAIIDs.conversation(session.id)), "object": "conversation",
         "created_at": .number(session.createdAt.rounded(.down)), "metadata": .object(metadata.mapValues(JSONValue.string))]
    }

    private static func list(_ items: [JSONValue], hasMore: Bool) -> JSONValue {
        ["object": "list", "data": .array(items), "first_id": items.first?["id"] ?? .null, "last_id": items.last?["id"] ?? .null,
         "has_more": .bool(hasMore)]
    }
}

extension APIError {
    static let itemNotFound = APIError(.notFound, code: "item_not_found", "no such item in this conversation")
}
