/// What `find_agents` searches for a user: the template library, and the user's own agents
/// (an anonymous user has none; no one sees another's).
public struct AccountAgentDirectory: AgentDirectory {
    let templates: AgentTemplateCatalog
    let accounts: any AccountStore

    public init(templates: AgentTemplateCatalog, accounts: any AccountStore) {
        self.templates = templates
        self.accounts = accounts
    }

    public func agents(visibleTo user: String) async throws -> [AgentSummary] {
        let agents = user.hasPrefix("anon:") ? [] : try await accounts.agents(user: user)
        let own: [AgentSummary] = agents.map { agent in
            let template = templates.template(agent.templateID)
            return AgentSummary(id: agent.id, name: agent.name, description: template?.description ?? "",
                                details: agent.persona ?? template?.systemPrompt ?? "")
        }
        return own + templates.templates.map {
            AgentSummary(id: $0.id, name: $0.name, description: $0.description, details: $0.systemPrompt)
        }
    }
}
