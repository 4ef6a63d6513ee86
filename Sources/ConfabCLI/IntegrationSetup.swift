import ConfabClient
import Foundation

/// The first two phases of an integration run, through the real API: register the users (each
/// in a tenant of their own) and make each user's agents from different templates.
struct IntegrationSetup: Sendable {
    /// What the run's usernames start with: `<prefix>-u`, so that deleting them by prefix never
    /// reaches a user whose name merely starts like the prefix ("ci" is not "cindy").
    static func usernamePrefix(_ prefix: String) -> String { prefix + "-u" }

    /// Confab, without credentials.
    let client: ConfabClient
    let parameters: IntegrationParameters

    /// A user the run registered; `client` carries the user's first API key (which, unlike the
    /// access token, does not expire during a long run).
    struct User: Sendable {
        var index: Int
        var username: String
        var client: ConfabClient
    }

    /// An agent the run made, with its owner and template.
    struct MadeAgent: Sendable {
        var user: User
        var agent: Agent
        var template: AgentTemplate
    }

    /// The five kinds of agent the multi-tenant tests are about come first, then the rest in the
    /// server's order: a user's agents take consecutive templates from here, each user starting
    /// one further on, so that a run of few users still covers many templates.
    static let preferredTemplates = ["friendly-assistant", "professional-expert", "creative-partner", "caring-friend", "efficient-assistant"]

    static func ordered(_ templates: [AgentTemplate]) -> [AgentTemplate] {
        let preferred = preferredTemplates.compactMap { id in templates.first { $0.id == id } }
        return preferred + templates.filter { !preferredTemplates.contains($0.id) }
    }

    /// Registers `P-u1` … `P-uN`; bcrypt makes each registration cost the server ~100 ms of a
    /// core, so a few run at once. 429s (the per-address login meter) are waited out.
    func registerUsers(progress: SharedProgress) async -> (users: [User], phase: PhaseCounts, errors: [RunError]) {
        let started = ContinuousClock.now
        var registering = client.authenticated(with: nil)
        registering.retry = RetryPolicy(attempts: 8, initialDelay: .milliseconds(500), maximumDelay: .seconds(61))
        // One password for the run, never written anywhere: the users live only until the clean-up.
        let password = "Cf-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").prefix(20) + "-9"
        let outcomes = await boundedMap(Array(1...parameters.users), limit: 4) { [registering, prefix = parameters.prefix] index -> Result<User, RunError> in
            let username = Self.usernamePrefix(prefix) + String(index)
            do {
                let registration = try await registering.register(username: username, password: password)
                progress.step()
                return .success(User(index: index, username: username, client: registering.authenticated(with: registration.apiKey.key)))
            } catch {
                progress.step(failed: true)
                return .failure(RunError(.user, user: username, message: "registration failed: \(error)"))
            }
        }
        return Self.split(outcomes, since: started)
    }

    /// Makes `agentsPerUser` agents for each user, from consecutive templates of
    /// ``ordered(_:)`` (different ones for a user, as long as there are enough templates).
    func createAgents(for users: [User], templates: [AgentTemplate], progress: SharedProgress)
        async -> (agents: [MadeAgent], phase: PhaseCounts, errors: [RunError]) {
        let started = ContinuousClock.now
        let plan = users.flatMap { user in
            (0..<parameters.agentsPerUser).map { slot in (user, slot, templates[(user.index - 1 + slot) % templates.count]) }
        }
        let outcomes = await boundedMap(plan, limit: 16) { item -> Result<MadeAgent, RunError> in
            let (user, slot, template) = item
            do {
                let agent = try await user.client.createAgent(AgentFields(name: "\(template.name) \(user.index)-\(slot + 1)", templateID: template.id))
                progress.step()
                return .success(MadeAgent(user: user, agent: agent, template: template))
            } catch {
                progress.step(failed: true)
                return .failure(RunError(.agent, user: user.username, template: template.id, message: "agent creation failed: \(error)"))
            }
        }
        return Self.split(outcomes, since: started)
    }

    private static func split<Value>(_ outcomes: [Result<Value, RunError>], since started: ContinuousClock.Instant)
        -> ([Value], PhaseCounts, [RunError]) {
        let values = outcomes.compactMap { try? $0.get() }
        let errors = outcomes.compactMap { outcome -> RunError? in
            if case .failure(let error) = outcome { return error }
            return nil
        }
        return (values, PhaseCounts(attempted: outcomes.count, succeeded: values.count, since: started), errors)
    }
}
