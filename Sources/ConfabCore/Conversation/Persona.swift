/// A role the model plays: its name, the system prompt that sets it up, and the tools (by
/// name, from the `ToolRegistry`) its model is offered. A user's agent becomes one for its turns.
public struct Persona: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var description: String
    public var systemPrompt: String
    public var tools: [String]
    /// The model to ask for instead of the configured one (an agent's choice).
    public var model: String?
    public var temperature: Double?

    public init(id: String, name: String, description: String, systemPrompt: String, tools: [String] = [],
                model: String? = nil, temperature: Double? = nil) {
        self.id = id
        self.name = name
        self.description = description
        self.systemPrompt = systemPrompt
        self.tools = tools
        self.model = model
        self.temperature = temperature
    }

    enum CodingKeys: String, CodingKey {
        case id, name, description, tools, model, temperature
        case systemPrompt = "system_prompt"
    }
}

/// The personas a user can pick from, and the one used when none is named.
public struct PersonaCatalog: Sendable {
    public let personas: [Persona]
    public let defaultID: String

    public init(personas: [Persona] = PersonaCatalog.builtIn, defaultID: String = "assistant") {
        precondition(personas.contains { $0.id == defaultID }, "the default persona must be in the catalog")
        self.personas = personas
        self.defaultID = defaultID
    }

    public func persona(_ id: String?) -> Persona? {
        let wanted = id.flatMap { $0.isEmpty ? nil : $0 } ?? defaultID
        return personas.first { $0.id == wanted }
    }

    public static let builtIn: [Persona] = [
        Persona(id: "assistant", name: "Assistant", description: "A friendly, professional helper for everyday questions.",
                systemPrompt: "You are a helpful, friendly and professional assistant. Answer clearly and concisely."),
        Persona(id: "teacher", name: "Teacher", description: "A patient teacher who explains step by step.",
                systemPrompt: "You are a patient teacher. Explain ideas step by step with simple examples, and check understanding."),
        Persona(id: "programmer", name: "Programmer", description: "A software expert who answers with working code.",
                systemPrompt: "You are an expert programmer. Give precise technical answers with short, correct code examples."),
        Persona(id: "scout", name: "Agent finder", description: "Finds the right agent for a task, and knows the time.",
                systemPrompt: "You help users find the agent (persona) that suits their task. Use the find_agents tool to search "
                    + "the catalog, then recommend the best matches by name and say why. Use current_time for dates and times.",
                tools: ["find_agents", "current_time", "fetch_url"]),
        Persona(id: "advisor", name: "Business advisor", description: "Helps plan, fund and grow a small business: money, pricing, marketing.",
                systemPrompt: "You are a practical small-business advisor. Give concrete, prudent advice on money, pricing and growth."),
    ]
}
