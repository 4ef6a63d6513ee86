import ConfabCore

/// The body of `POST /v1/responses`: the fields Confab reads; others are accepted and ignored.
struct ResponseCreateRequest: Decodable, Sendable {
    var model: String?
    /// A string, or a list of message items.
    var input: JSONValue?
    var instructions: String?
    var previousResponseID: String?
    /// A conversation id, or `{"id": …}`.
    var conversation: JSONValue?
    var store: Bool?
    var stream: Bool?
    var metadata: [String: String]?
    var temperature: Double?
    var tools: [JSONValue]?

    enum CodingKeys: String, CodingKey {
        case model, input, instructions, conversation, store, stream, metadata, temperature, tools
        case previousResponseID = "previous_response_id"
    }

    var conversationID: String? {
        conversation?.string ?? conversation?["id"]?.string
    }
}

/// A message item of a request's `input` or of a conversation: a role and its text.
struct InputMessage: Sendable, Equatable {
    var role: String
    var text: String

    /// As stored in a session (user or assistant: the caller keeps system items out).
    func stored(at time: Double) -> ChatMessage {
        ChatMessage(role: role == "assistant" ? .assistant : .user, content: text, timestamp: time)
    }
}

extension Validation {
    /// `input` (or a conversation's `items`) as messages: a string is one user message; a list
    /// holds message items (`{type?: "message", role, content}`, content a string or text parts).
    /// `storable`: only user and assistant items (a conversation keeps no system messages).
    func inputMessages(_ input: JSONValue?, field: String = "input", limit: Int = 100, storable: Bool = false) throws -> [InputMessage] {
        switch input {
        case .string(let text):
            return [InputMessage(role: "user", text: try message(text))]
        case .array(let items):
            guard items.count <= limit else {
                throw APIError(.badRequest, code: "invalid_input", "\(field) may hold at most \(limit) items")
            }
            return try items.enumerated().map { index, item in
                let message = try inputMessage(item, field: "\(field)[\(index)]")
                guard !storable || message.role == "user" || message.role == "assistant" else {
                    throw APIError(.badRequest, code: "invalid_input",
                                   "\(field)[\(index)].role: a conversation keeps user and assistant messages; give instructions per response")
                }
                return message
            }
        case nil, .null?:
            throw APIError.missing(field)
        default:
            throw APIError(.badRequest, code: "invalid_input", "\(field) must be a string or a list of message items")
        }
    }

    private func inputMessage(_ item: JSONValue, field: String) throws -> InputMessage {
        guard item["type"] == nil || item["type"] == "message" else {
            throw APIError(.badRequest, code: "unsupported_item", "\(field).type: only message items are supported")
        }
        guard let role = item["role"]?.string, ["user", "assistant", "system", "developer"].contains(role) else {
            throw APIError(.badRequest, code: "invalid_input", "\(field).role must be user, assistant, system or developer")
        }
        let text: String?
        switch item["content"] {
        case .string(let string)?: text = string
        case .array(let parts)?:
            let texts = parts.compactMap { part -> String? in
                ["input_text", "output_text", "text"].contains(part["type"]?.string ?? "") ? part["text"]?.string : nil
            }
            text = texts.count == parts.count && !texts.isEmpty ? texts.joined(separator: "\n") : nil
        default: text = nil
        }
        guard let text else { throw APIError(.badRequest, code: "invalid_input", "\(field).content must be text (input_text parts)") }
        return InputMessage(role: role, text: try message(text))
    }
}
