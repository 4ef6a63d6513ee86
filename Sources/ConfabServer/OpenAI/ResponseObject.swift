import ConfabCore

/// OpenAI's `response` object for a reply: one output message with its text, the status, the
/// usage, and the chain it belongs to. The same shape for `responses.create`, the stream's
/// `response.*` events and `responses.retrieve`.
struct ResponseObject: Sendable {
    var id: String
    var model: String
    var createdAt: Double
    var itemID: String
    var text = ""
    var status: Status = .inProgress
    var usage: Usage?
    var error: ErrorInfo?
    /// Why a reply is incomplete (`client_disconnected`, `shutdown`).
    var incompleteReason: String?
    var previousResponseID: String?
    var conversationID: String?
    var instructions: String?
    var store: Bool
    var metadata: [String: String] = [:]

    enum Status: String, Sendable {
        case inProgress = "in_progress", completed, incomplete, failed
    }

    /// The object as kept for a stored reply.
    init(reply: ChatMessage, session: String, previous: ChatMessage?) {
        id = OpenAIIDs.response(session: session, message: reply.id)
        model = reply.persona ?? reply.model ?? ""
        createdAt = reply.timestamp
        itemID = OpenAIIDs.item(reply.id)
        text = reply.content
        status = Status(reply.status)
        usage = reply.usage
        error = reply.error
        incompleteReason = reply.reason
        previousResponseID = previous.map { OpenAIIDs.response(session: session, message: $0.id) }
        conversationID = OpenAIIDs.conversation(session)
        store = true
    }

    init(id: String, model: String, createdAt: Double, itemID: String, store: Bool) {
        (self.id, self.model, self.createdAt, self.itemID, self.store) = (id, model, createdAt, itemID, store)
    }

    /// How a turn ended, as a response's status.
    mutating func end(_ ending: TurnEnding, error: ErrorInfo?) {
        status = error != nil && ending.status != .partial ? .failed : Status(ending.status)
        self.error = error
        usage = ending.usage ?? usage
        incompleteReason = ending.reason
    }

    /// The output message, as `response.output[0]` and a conversation item.
    var outputItem: JSONValue {
        ConversationItem.message(id: itemID, role: "assistant", text: text, complete: status == .completed)
    }

    var json: JSONValue {
        var object: [String: JSONValue] = [
            "id": .string(id), "object": "response", "created_at": .number(createdAt.rounded(.down)), "status": .string(status.rawValue),
            "model": .string(model), "output": .array(status == .inProgress ? [] : [outputItem]),
            "parallel_tool_calls": false, "tool_choice": "auto", "tools": [], "store": .bool(store),
            "text": ["format": ["type": "text"]], "truncation": "disabled",
            "metadata": .object(metadata.mapValues(JSONValue.string)),
            "instructions": instructions.map(JSONValue.string) ?? .null,
            "previous_response_id": previousResponseID.map(JSONValue.string) ?? .null,
            "conversation": conversationID.map { ["id": .string($0)] } ?? .null,
            "error": error.map { ["code": .string($0.code), "message": .string($0.message)] } ?? .null,
            "incomplete_details": status == .incomplete ? ["reason": .string(incompleteReason ?? "interrupted")] : .null,
        ]
        if let usage {
            object["usage"] = ["input_tokens": .number(Double(usage.promptTokens)), "input_tokens_details": ["cached_tokens": 0],
                               "output_tokens": .number(Double(usage.completionTokens)),
                               "output_tokens_details": ["reasoning_tokens": 0], "total_tokens": .number(Double(usage.totalTokens))]
        }
        return .object(object)
    }
}

extension ResponseObject.Status {
    init(_ status: ChatMessage.Status) {
        switch status {
        case .complete: self = .completed
        case .partial: self = .incomplete
        case .error: self = .failed
        }
    }
}

/// A conversation's item: a stored message as OpenAI's `message` item.
enum ConversationItem {
    static func message(id: String, role: String, text: String, complete: Bool, inProgress: Bool = false) -> JSONValue {
        let part: JSONValue = role == "assistant"
            ? ["type": "output_text", "text": .string(text), "annotations": [], "logprobs": []]
            : ["type": "input_text", "text": .string(text)]
        return ["type": "message", "id": .string(id), "status": inProgress ? "in_progress" : complete ? "completed" : "incomplete",
                "role": .string(role),
                "content": [part]]
    }

    static func of(_ message: ChatMessage) -> JSONValue {
        Self.message(id: OpenAIIDs.item(message.id), role: message.role.rawValue, text: message.content,
                     complete: message.status == .complete)
    }
}
