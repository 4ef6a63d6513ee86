/// A conversation's metadata, as `GET /chat/sessions` lists it.
public struct Session: Codable, Sendable, Equatable {
    public var id: String
    /// The start of the first message; empty until one is sent.
    public var title: String
    /// The persona id, or the agent id (`agt_…`) the session plays.
    public var persona: String
    /// Seconds since 1970.
    public var createdAt: Double
    public var updatedAt: Double
    public var messageCount: Int
    public var usage: TokenUsage

    enum CodingKeys: String, CodingKey {
        case id, title, persona, usage
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case messageCount = "message_count"
    }
}
