import ConfabCore

/// The body of `POST /v1/chat/completions` (and Open WebUI's `/api/chat/completions`, which
/// adds `chat_id`): the fields Confab reads; others are accepted and ignored.
struct ChatCompletionRequest: Decodable {
    var model: String?
    var messages: [ChatCompletionMessage]
    var stream: Bool?
    var streamOptions: StreamOptions?
    var tools: [ClientTool]?
    var temperature: Double?
    /// Open WebUI's chat the completion belongs to (its turn is stored there).
    var chatID: String?

    struct StreamOptions: Decodable {
        var includeUsage: Bool?
        enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
    }

    enum CodingKeys: String, CodingKey {
        case model, messages, stream, tools, temperature
        case streamOptions = "stream_options"
        case chatID = "chat_id"
    }
}

/// One message as OpenAI's chat format has it: `content` a string, an array of text parts, or
/// null beside tool calls.
struct ChatCompletionMessage: Decodable {
    var role: String
    var content: JSONValue?
    var toolCalls: [ToolCall]?
    var toolCallID: String?

    enum CodingKeys: String, CodingKey {
        case role, content
        case toolCalls = "tool_calls"
        case toolCallID = "tool_call_id"
    }

    /// The text: the string, or the text parts joined; nil when there is none.
    var text: String? {
        switch content {
        case .string(let text): text
        case .array(let parts): parts.compactMap { $0["type"]?.string == "text" ? $0["text"]?.string : nil }.joined(separator: "\n")
        default: nil
        }
    }
}

/// A function the client declares and runs itself: `{"type":"function","function":{name, description?, parameters?}}`.
struct ClientTool: Decodable {
    struct Function: Decodable {
        var name: String
        var description: String?
        var parameters: JSONValue?
    }

    var type: String
    var function: Function

    var spec: ToolSpec {
        ToolSpec(name: function.name, description: function.description ?? "", parameters: function.parameters ?? ["type": "object"])
    }
}

extension Validation {
    /// The client's conversation as the model is sent it, checked: known roles (`developer` is
    /// sent as `system`), text content, tool results that name their call, and the last message
    /// the user's or a tool result. `dropping` removes messages a client sends as filler.
    func conversation(_ messages: [ChatCompletionMessage], dropping filler: (ChatCompletionMessage) -> Bool = { _ in false })
        throws -> [PromptMessage] {
        let kept = messages.filter { !filler($0) }
        guard !kept.isEmpty else {
            throw APIError(.badRequest, code: "invalid_messages", "messages must hold at least one message")
        }
        let prompt = try kept.enumerated().map { index, message -> PromptMessage in
            let field = "messages[\(index)]"
            switch message.role {
            case "system", "developer", "user":
                guard let text = message.text else { throw APIError(.badRequest, code: "invalid_messages", "\(field).content must be text") }
                return PromptMessage(role: message.role == "user" ? "user" : "system", content: text)
            case "assistant":
                guard message.text != nil || !(message.toolCalls ?? []).isEmpty else {
                    throw APIError(.badRequest, code: "invalid_messages", "\(field) needs content or tool_calls")
                }
                return PromptMessage(role: "assistant", content: message.text, toolCalls: message.toolCalls)
            case "tool":
                guard let id = message.toolCallID, !id.isEmpty else {
                    throw APIError(.badRequest, code: "invalid_messages", "\(field).tool_call_id is required for a tool message")
                }
                return PromptMessage(role: "tool", content: message.text ?? "", toolCallID: id)
            default:
                throw APIError(.badRequest, code: "invalid_messages",
                               "\(field).role must be system, developer, user, assistant or tool, not '\(message.role)'")
            }
        }
        guard let last = prompt.last, last.role == "user" || last.role == "tool" else {
            throw APIError(.badRequest, code: "invalid_messages", "the last message must be the user's or a tool result")
        }
        if last.role == "user" { _ = try message(last.content) }
        return prompt
    }

    /// The tools a client declares (functions only, names as OpenAI allows them).
    func clientTools(_ tools: [ClientTool]?) throws -> [ToolSpec] {
        try (tools ?? []).enumerated().map { index, tool in
            guard tool.type == "function" else {
                throw APIError(.badRequest, code: "invalid_tools", "tools[\(index)].type must be \"function\"")
            }
            let name = tool.function.name
            guard (1...64).contains(name.utf8.count),
                  name.utf8.allSatisfy({ Self.isASCIIAlphanumeric($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }) else {
                throw APIError(.badRequest, code: "invalid_tools", "tools[\(index)].function.name must be 1 to 64 of a-z, A-Z, 0-9, _ and -")
            }
            return tool.spec
        }
    }
}
