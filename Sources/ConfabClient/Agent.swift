/// One of a user's agents: a template with its own name and, optionally, its own persona text,
/// model, temperature and tools.
public struct Agent: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var templateID: String
    /// Replaces the template's system prompt when set.
    public var persona: String?
    public var model: String?
    public var temperature: Double?
    public var tools: [String]?
    public var createdAt: Double
    public var updatedAt: Double

    enum CodingKeys: String, CodingKey {
        case id, name, persona, model, temperature, tools
        case templateID = "template_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }
}
