/// An agent a user made from a template: its own name, and optionally its own persona text
/// (instead of the template's system prompt), model, temperature and tools.
public struct Agent: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var templateID: String
    public var persona: String?
    public var model: String?
    public var temperature: Double?
    public var tools: [String]?
    public var createdAt: Double
    public var updatedAt: Double

    public init(id: String, name: String, templateID: String, persona: String? = nil, model: String? = nil,
                temperature: Double? = nil, tools: [String]? = nil, createdAt: Double, updatedAt: Double) {
        self.id = id
        self.name = name
        self.templateID = templateID
        self.persona = persona
        self.model = model
        self.temperature = temperature
        self.tools = tools
        self.createdAt = createdAt
        self.updatedAt = updatedAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, persona, model, temperature, tools
        case templateID = "template_id"
        case createdAt = "created_at"
        case updatedAt = "updated_at"
    }

    /// The persona a turn with this agent plays: the template's, with the agent's choices on top.
    public func persona(from template: AgentTemplate) -> Persona {
        Persona(id: id, name: name, description: template.description,
                systemPrompt: persona ?? template.systemPrompt, tools: tools ?? template.tools,
                model: model, temperature: temperature)
    }

    /// Agent ids start so; the store tells them from persona ids by it.
    public static let idPrefix = "agt_"
}

/// What agents are made from: a system prompt, a description, default tools and topics to
/// open a conversation with.
public struct AgentTemplate: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var description: String
    public var systemPrompt: String
    public var tools: [String]
    public var openingTopics: [String]

    enum CodingKeys: String, CodingKey {
        case id, name, description, tools
        case systemPrompt = "system_prompt"
        case openingTopics = "opening_topics"
    }
}

/// The template library: every built-in persona, and the five kinds of agent the multi-tenant
/// tests make (friendly assistant, professional expert, creative partner, caring friend,
/// efficient assistant).
public struct AgentTemplateCatalog: Sendable {
    public let templates: [AgentTemplate]

    public init(personas: PersonaCatalog) {
        let topics: [String: [String]] = [
            "assistant": ["Plan my week", "Explain a news story", "Write a polite email"],
            "teacher": ["How do fractions work?", "Explain photosynthesis", "Quiz me on capitals"],
            "programmer": ["Reverse a list in Swift", "What is a race condition?", "Review my SQL query"],
            "scout": ["Which agent helps with money?", "What time is it in UTC?"],
            "advisor": ["Price my handmade candles", "Plan a marketing budget", "Should I take a loan?"],
        ]
        templates = personas.personas.map {
            AgentTemplate(id: $0.id, name: $0.name, description: $0.description, systemPrompt: $0.systemPrompt,
                          tools: $0.tools, openingTopics: topics[$0.id] ?? [])
        } + Self.kinds
    }

    public func template(_ id: String) -> AgentTemplate? { templates.first { $0.id == id } }

    static let kinds: [AgentTemplate] = [
        AgentTemplate(id: "friendly-assistant", name: "Friendly assistant", description: "Warm and upbeat; helps with everyday questions.",
                      systemPrompt: "You are a warm, upbeat assistant. Be friendly and encouraging, and keep answers simple.",
                      tools: ["current_time"], openingTopics: ["Plan a weekend trip", "Ideas for a birthday gift", "Recommend a book"]),
        AgentTemplate(id: "professional-expert", name: "Professional expert", description: "Precise, sourced, formal answers for work.",
                      systemPrompt: "You are a senior professional consultant. Answer precisely and formally, state assumptions and risks.",
                      tools: [], openingTopics: ["Draft a project risk register", "Compare cloud pricing models", "Explain GDPR duties"]),
        AgentTemplate(id: "creative-partner", name: "Creative partner", description: "Brainstorms stories, names, slogans and art ideas.",
                      systemPrompt: "You are an imaginative creative partner. Offer bold ideas, vivid language and several options.",
                      tools: [], openingTopics: ["Name my coffee shop", "Start a short story about the sea", "Ideas for a poster"]),
        AgentTemplate(id: "caring-friend", name: "Caring friend", description: "Listens, supports and encourages; never judges.",
                      systemPrompt: "You are a caring, patient friend. Listen, reflect feelings back kindly and encourage gently.",
                      tools: [], openingTopics: ["I had a rough day", "How do I stay motivated?", "Help me relax before an exam"]),
        AgentTemplate(id: "efficient-assistant", name: "Efficient assistant", description: "Short, direct answers and checklists.",
                      systemPrompt: "You are an efficient assistant. Answer in as few words as possible, using lists where they help.",
                      tools: ["current_time"], openingTopics: ["Checklist for moving house", "Summarise this in 3 bullets", "Quick dinner idea"]),
    ]
}
