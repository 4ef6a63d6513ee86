/// A role the model plays: its name and the system prompt that sets it up.
public struct Persona: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var description: String
    public var systemPrompt: String

    public init(id: String, name: String, description: String, systemPrompt: String) {
        self.id = id
        self.name = name
        self.description = description
        self.systemPrompt = systemPrompt
    }

    enum CodingKeys: String, CodingKey {
        case id, name, description
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
    ]
}
