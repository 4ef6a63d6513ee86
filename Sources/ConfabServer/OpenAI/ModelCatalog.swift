import ConfabCore
import Foundation

/// What OpenAI-compatible clients may name as `model`: every persona, and the caller's own
/// agents (`agt_…`). Both answer with the persona's (or agent's) system prompt and model.
struct ModelCatalog: Sendable {
    let turns: TurnEnvironment
    let accounts: any AccountStore

    /// One model a caller can choose.
    struct Entry: Sendable {
        /// The name clients send: a persona id or an agent id.
        var id: String
        var name: String
        var created: Int
        var ownedBy: String
        var persona: Persona
    }

    /// The personas, then the caller's agents.
    func models(for owner: Owner) async throws -> [Entry] {
        let personas = turns.personas.personas.map {
            Entry(id: $0.id, name: $0.name, created: 0, ownedBy: "confab", persona: $0)
        }
        guard owner.isRegistered else { return personas }
        let agents = try await storage { try await accounts.agents(user: owner.storeID) }
        return personas + agents.map { Entry(id: $0.id, name: $0.name, created: Int($0.createdAt), ownedBy: owner.shownID,
                                             persona: turns.persona($0.id, agent: $0)) }
    }

    /// The model named `id`, or a 404 `model_not_found` (another user's agent is not found either).
    func model(_ id: String?, for owner: Owner) async throws -> Entry {
        guard let id, !id.isEmpty else { throw APIError.missing("model") }
        if let persona = turns.personas.persona(id) {
            return Entry(id: persona.id, name: persona.name, created: 0, ownedBy: "confab", persona: persona)
        }
        if id.hasPrefix(Agent.idPrefix), owner.isRegistered, Identifier.isValid(id, prefix: Agent.idPrefix),
           let agent = try await storage({ try await accounts.agent(user: owner.storeID, id: id) }) {
            return Entry(id: agent.id, name: agent.name, created: Int(agent.createdAt), ownedBy: owner.shownID,
                         persona: turns.persona(agent.id, agent: agent))
        }
        throw APIError(.notFound, code: "model_not_found",
                       "the model '\(id)' does not exist: name a persona (\(turns.personas.personas.map(\.id).joined(separator: ", "))) or one of your agents")
    }
}

extension ModelCatalog.Entry {
    /// OpenAI's model object (`models.list()` reads these fields); `name` for Open WebUI.
    var json: JSONValue {
        ["id": .string(id), "object": "model", "created": .number(Double(created)), "owned_by": .string(ownedBy), "name": .string(name)]
    }
}
