/// What an agent is made with (`POST /api/v1/agents`: `name` and `templateID` required) or
/// changed by (`PATCH /api/v1/agents/{id}`: only the fields given change).
public struct AgentFields: Codable, Sendable, Equatable {
    public var name: String?
    public var templateID: String?
    public var persona: String?
    public var model: String?
    /// From 0 to 2.
    public var temperature: Double?
    public var tools: [String]?

    public init(name: String? = nil, templateID: String? = nil, persona: String? = nil, model: String? = nil,
                temperature: Double? = nil, tools: [String]? = nil) {
        self.name = name
        self.templateID = templateID
        self.persona = persona
        self.model = model
        self.temperature = temperature
        self.tools = tools
    }

    enum CodingKeys: String, CodingKey {
        case name, persona, model, temperature, tools
        case templateID = "template_id"
    }
}
