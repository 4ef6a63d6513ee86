/// The template library and the caller's agents (`/api/v1/agents`).
extension ConfabClient {
    /// Every template agents can be made from; needs no credentials.
    public func agentTemplates() async throws -> [AgentTemplate] {
        try await send(.GET, "/api/v1/agents/templates", as: TemplateList.self).templates
    }

    /// The caller's agents, oldest first.
    public func agents() async throws -> [Agent] {
        try await send(.GET, "/api/v1/agents", as: AgentList.self).agents
    }

    /// Makes an agent; `fields` must name it and its template.
    public func createAgent(_ fields: AgentFields) async throws -> Agent {
        try await send(.POST, "/api/v1/agents", body: fields)
    }

    public func agent(id: String) async throws -> Agent {
        try await send(.GET, "/api/v1/agents/\(Self.segment(id))")
    }

    /// Changes the fields given; the others stay as they are.
    public func updateAgent(id: String, _ changes: AgentFields) async throws -> Agent {
        try await send(.PATCH, "/api/v1/agents/\(Self.segment(id))", body: changes)
    }

    public func deleteAgent(id: String) async throws {
        _ = try await send(.DELETE, "/api/v1/agents/\(Self.segment(id))", as: JSONValue.self)
    }
}

private struct TemplateList: Decodable {
    var templates: [AgentTemplate]
}

private struct AgentList: Decodable {
    var agents: [Agent]
}
