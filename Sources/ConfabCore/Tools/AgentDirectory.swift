/// Where `find_agents` looks: the persona catalog (tests), or `AccountAgentDirectory` (the
/// templates and the user's own agents, each visible only to its owner).
public protocol AgentDirectory: Sendable {
    func agents(visibleTo user: String) async throws -> [AgentSummary]
}

/// An agent as search sees it.
public struct AgentSummary: Sendable, Equatable {
    public var id: String
    public var name: String
    public var description: String
    /// More text to match (e.g. the system prompt), never shown.
    public var details: String

    public init(id: String, name: String, description: String, details: String = "") {
        self.id = id
        self.name = name
        self.description = description
        self.details = details
    }
}

extension PersonaCatalog: AgentDirectory {
    public func agents(visibleTo user: String) async throws -> [AgentSummary] {
        personas.map { AgentSummary(id: $0.id, name: $0.name, description: $0.description, details: $0.systemPrompt) }
    }
}
