/// What agents are made from (`GET /api/v1/agents/templates`).
public struct AgentTemplate: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var description: String
    public var systemPrompt: String
    public var tools: [String]
    /// Suggestions to open a conversation with.
    public var openingTopics: [String]

    enum CodingKeys: String, CodingKey {
        case id, name, description, tools
        case systemPrompt = "system_prompt"
        case openingTopics = "opening_topics"
    }
}
