/// One message of the prompt sent to the model, in the OpenAI chat format: an assistant
/// message may carry tool calls (and no text), a `tool` message answers one call.
public struct PromptMessage: Codable, Sendable, Equatable {
    public var role: String
    public var content: String?
    public var toolCalls: [ToolCall]?
    public var toolCallID: String?

    public init(role: String, content: String?, toolCalls: [ToolCall]? = nil, toolCallID: String? = nil) {
        self.role = role
        self.content = content
        self.toolCalls = toolCalls
        self.toolCallID = toolCallID
    }

    enum CodingKeys: String, CodingKey {
        case role, content
        case toolCalls = "tool_calls"
        case toolCallID = "tool_call_id"
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(role, forKey: .role)
        try c.encode(content, forKey: .content)  // null beside tool calls, as OpenAI sends it
        try c.encodeIfPresent(toolCalls, forKey: .toolCalls)
        try c.encodeIfPresent(toolCallID, forKey: .toolCallID)
    }

    /// Characters counted against the prompt budget.
    var size: Int {
        (content?.characterCount ?? 0) + (toolCalls ?? []).reduce(0) { $0 + $1.name.characterCount + $1.arguments.characterCount }
    }
}
