import ConfabCore
import Foundation
import Hummingbird

/// The template library, and a user's agents made from it. Another user's agent is a 404.
struct AgentsController: Sendable {
    typealias Context = ConfabRequestContext
    let accounts: any AccountStore
    let templates: AgentTemplateCatalog
    let tools: ToolRegistry
    let validate: Validation

    func addRoutes(to router: RouteTable<Context>) {
        router.get("/api/v1/agents/templates", use: listTemplates)
        router.post("/api/v1/agents", use: create)
        router.get("/api/v1/agents", use: list)
        router.get("/api/v1/agents/{agent_id}", use: fetch)
        router.patch("/api/v1/agents/{agent_id}", use: update)
        router.delete("/api/v1/agents/{agent_id}", use: delete)
    }

    /// `GET /api/v1/agents/templates` — public, like the persona list.
    @Sendable func listTemplates(_ request: Request, context: Context) async throws -> Response {
        try JSONBody.response(["templates": templates.templates])
    }

    /// `POST /api/v1/agents` {name, template_id, persona?, model?, temperature?, tools?} → 201.
    @Sendable func create(_ request: Request, context: Context) async throws -> Response {
        var request = request
        let user = try validate.signedIn(context)
        let body = try await validate.decode(AgentRequest.self, from: &request)
        guard let templateID = body.templateID else { throw APIError.missing("template_id") }
        let now = Date().timeIntervalSince1970
        var agent = Agent(id: Identifier.agent(), name: try validate.displayName(body.name, field: "name"),
                          templateID: templateID, createdAt: now, updatedAt: now)
        try apply(body, to: &agent)
        let most = validate.settings.identity.maxAgentsPerUser
        guard try await storage({ try await accounts.addAgent(user: user.account.id, agent, limit: most) }) else {
            throw APIError(.conflict, code: "agent_limit_reached", "this user has \(most) agents, the most allowed; delete one first")
        }
        return try JSONBody.response(agent, status: .created)
    }

    /// `GET /api/v1/agents` — the user's agents, oldest first.
    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        let user = try validate.signedIn(context)
        return try JSONBody.response(["agents": try await storage { try await accounts.agents(user: user.account.id) }])
    }

    @Sendable func fetch(_ request: Request, context: Context) async throws -> Response {
        let (_, agent) = try await owned(context)
        return try JSONBody.response(agent)
    }

    /// `PATCH /api/v1/agents/{id}` — the fields given replace the agent's; others stay.
    @Sendable func update(_ request: Request, context: Context) async throws -> Response {
        var request = request
        let (user, found) = try await owned(context)
        let body = try await validate.decode(AgentRequest.self, from: &request)
        var agent = found
        if let name = body.name { agent.name = try validate.displayName(name, field: "name") }
        if let template = body.templateID { agent.templateID = template }
        try apply(body, to: &agent)
        agent.updatedAt = Date().timeIntervalSince1970
        try await storage { try await accounts.putAgent(user: user.account.id, agent) }
        return try JSONBody.response(agent)
    }

    @Sendable func delete(_ request: Request, context: Context) async throws -> Response {
        let (user, agent) = try await owned(context)
        _ = try await storage { try await accounts.deleteAgent(user: user.account.id, id: agent.id) }
        return try JSONBody.response(["id": agent.id, "message": "agent deleted"])
    }

    /// The signed-in user and their agent named in the path; 404 for anyone else's.
    private func owned(_ context: Context) async throws -> (SignedInUser, Agent) {
        let user = try validate.signedIn(context)
        let id = try validate.agentID(context.parameters.get("agent_id"))
        guard let agent = try await storage({ try await accounts.agent(user: user.account.id, id: id) }) else { throw APIError.agentNotFound }
        return (user, agent)
    }

    /// Checks and applies the optional fields (the template is checked here too).
    private func apply(_ body: AgentRequest, to agent: inout Agent) throws {
        guard templates.template(agent.templateID) != nil else {
            throw APIError(.badRequest, code: "unknown_template",
                           "unknown template_id '\(agent.templateID)'; see GET /api/v1/agents/templates")
        }
        if let persona = body.persona {
            guard persona.count <= 4000, !persona.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
                throw APIError(.badRequest, code: "invalid_persona", "persona must be 1 to 4000 characters")
            }
            agent.persona = persona
        }
        if let model = body.model {
            guard (1...200).contains(model.utf8.count), model.utf8.allSatisfy({ $0 > 32 && $0 < 127 }) else {
                throw APIError(.badRequest, code: "invalid_model", "model must be 1 to 200 visible ASCII characters")
            }
            agent.model = model
        }
        if let temperature = body.temperature {
            guard (0...2).contains(temperature) else { throw APIError(.badRequest, code: "invalid_temperature", "temperature must be from 0 to 2") }
            agent.temperature = temperature
        }
        if let names = body.tools {
            let known = Set(tools.names)
            guard names.count <= 16, names.allSatisfy(known.contains) else {
                throw APIError(.badRequest, code: "unknown_tool", "tools must be among: \(tools.names.joined(separator: ", "))")
            }
            agent.tools = names
        }
    }
}

struct AgentRequest: Decodable {
    var name: String?
    var templateID: String?
    var persona: String?
    var model: String?
    var temperature: Double?
    var tools: [String]?

    enum CodingKeys: String, CodingKey {
        case name, persona, model, temperature, tools
        case templateID = "template_id"
    }
}
