import ArgumentParser
import ConfabClient
import Foundation

/// `confab integration`: an end-to-end run through the real API. It registers users (each its
/// own tenant), makes agents for each from different templates, holds every conversation at once
/// over `/chat/ws` (a socket each), sends messages that suit each agent's template one after
/// another, measures each reply, then deletes everything it made by the username prefix and
/// verifies nothing is left. Writes a JSON report and an HTML page beside it.
struct IntegrationCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "integration",
        abstract: "Run users × agents × messages through the real API and /chat/ws, report, and clean up.",
        discussion: """
            Registers --users users named <prefix>-u1…, makes --agents agents for each from different \
            templates, opens one /chat/ws socket per conversation (users × agents at once) and sends \
            --messages messages on each, each after the previous reply ended. Measures the time to the \
            first token and to the end of each reply; a turn fails on an error ending, a refused frame, \
            a closed socket or --turn-timeout. Then deletes every user under the prefix (needs the admin \
            token: CONFAB_ADMIN_TOKEN, or --admin-token) and verifies none is left, unless --no-cleanup; \
            with the clean-up on, users already under the prefix (an earlier run's) are deleted first, \
            which also checks the token before anything is made. \
            A run killed half-way is cleaned up with `confab cleanup --prefix <prefix>` (the prefix is \
            logged first). Progress goes to stderr, the summary to stdout (--json: the whole report).

            \(ExitStatus.help) With 7, the clean-up left something; with 8, a user, agent, connection \
            or turn failed.
            """)

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Users to register, each in a tenant of their own.")
    var users = 3

    @Option(help: "Agents per user, each from a different template.")
    var agents = 2

    @Option(help: "Messages per conversation, sent one after another.")
    var messages = 5

    @Option(help: "Every username starts with this (default it-<test id>); the clean-up deletes by it.")
    var prefix: String?

    @Option(help: "The JSON report (default integration-report-<test id>.json; a folder: that name in it); the HTML page goes beside it.")
    var report: String?

    @Flag(help: "Keep the users, agents and sessions (remove them later with confab cleanup --prefix).")
    var noCleanup = false

    @Option(help: "The server's admin token for the clean-up (prefer CONFAB_ADMIN_TOKEN: a flag shows in ps).")
    var adminToken: String?

    @Option(help: "Seconds a turn may take to end before it counts as failed (stop is then sent).")
    var turnTimeout = 120.0

    @Option(help: "A JSON file of template id → prompts (\"*\" for the others), instead of the built-in ones.")
    var topics: String?

    func validate() throws {
        guard (1...10_000).contains(users), (1...100).contains(agents), (1...1_000).contains(messages) else {
            throw ValidationError("--users must be 1 to 10000, --agents 1 to 100, --messages 1 to 1000")
        }
        guard turnTimeout > 0 else { throw ValidationError("--turn-timeout must be positive") }
        if let prefix {
            // Usernames are <prefix>-u<n>: 3 to 64 letters, digits and _ . -, starting with a letter or digit.
            let allowed = prefix.unicodeScalars.allSatisfy { $0.isASCII && (CharacterSet.alphanumerics.contains($0) || "_.-".unicodeScalars.contains($0)) }
            guard prefix.count >= 2, prefix.count + "-u\(users)".count <= 64, allowed,
                  prefix.unicodeScalars.first.map(CharacterSet.alphanumerics.contains) == true else {
                throw ValidationError("--prefix must be 2 or more ASCII letters, digits, _ . -, starting with a letter or digit, "
                                      + "and leave room for -u\(users) in 64 characters")
            }
        }
    }

    func run(client: ConfabClient, output: Output) async throws {
        let testID = String(UUID().uuidString.lowercased().prefix(8))
        let prefix = self.prefix ?? "it-\(testID)"
        let admin = noCleanup ? nil : client.authenticated(with: try UserPurge.adminToken(adminToken, for: "the clean-up (skip it with --no-cleanup)"))
        let table = try topics.map(TopicTable.init(contentsOf:)) ?? .builtIn
        let parameters = IntegrationParameters(users: users, agentsPerUser: agents, messagesPerConversation: messages, prefix: prefix,
                                               url: client.baseURL, turnTimeoutSeconds: turnTimeout, cleanup: !noCleanup, topicsFile: topics)
        output.log("integration \(testID): \(users) user(s) × \(agents) agent(s) × \(messages) message(s) at \(client.baseURL), "
                   + "usernames \(prefix)-u1…; if this run is cut short: confab cleanup --prefix \(prefix)")

        // Before anything is made: the templates, and (with a deletion that should find no one)
        // that the admin token works, so a wrong one fails now and not after the whole run.
        let templates = IntegrationSetup.ordered(try await client.authenticated(with: nil).agentTemplates())
        guard !templates.isEmpty else { throw IntegrationFailure(description: "the server offers no agent templates") }
        if let admin {
            let leftover: AdminDeletion
            do {
                leftover = try await admin.deleteUsers(prefix: IntegrationSetup.usernamePrefix(prefix))
            } catch let error as ConfabClientError where error.status == 401 || error.status == 403 {
                output.log("integration: the admin token was refused (the server's CONFAB_ADMIN_TOKEN is needed for the clean-up)")
                throw error
            }
            if leftover.deleted.users > 0 { output.log("integration: deleted \(leftover.deleted.users) user(s) an earlier run left under '\(prefix)'") }
        }

        let started = Date()
        let setup = IntegrationSetup(client: client, parameters: parameters)
        let registered = await setup.registerUsers(progress: SharedProgress("users", total: users, output: output))
        let made = await setup.createAgents(for: registered.users, templates: templates,
                                            progress: SharedProgress("agents", total: registered.users.count * agents, output: output))
        output.log("integration: \(made.agents.count) conversation(s) over /chat/ws, \(messages) message(s) each")
        let conversing = ContinuousClock.now
        let progress = SharedProgress("turns", total: made.agents.count * messages, output: output)
        let conversations = await withTaskGroup(of: Conversation.Result.self) { group in
            for agent in made.agents {
                let prompts = (0..<messages).map { table.prompt(for: agent.template, turn: $0, user: agent.user.index - 1) }
                let conversation = Conversation(made: agent, prompts: prompts, turnTimeout: .milliseconds(Int64(turnTimeout * 1000)),
                                                progress: progress)
                group.addTask { await conversation.run() }
            }
            return await group.reduce(into: []) { $0.append($1) }
        }
        let websocketSeconds = (ContinuousClock.now - conversing).seconds
        let (cleanup, cleanupError) = await IntegrationCleanup(admin: admin, prefix: IntegrationSetup.usernamePrefix(prefix), output: output).run(users: registered.users)

        let report = IntegrationReport(
            testID: testID, started: started, ended: Date(), parameters: parameters, users: registered.phase, agents: made.phase,
            madeAgents: made.agents, conversations: conversations, websocketSeconds: websocketSeconds, cleanup: cleanup,
            errors: registered.errors + made.errors + (cleanupError.map { [$0] } ?? []))
        try publish(report, output: output)
        if parameters.cleanup && !cleanup.verified {
            throw VerificationFailure(description: cleanupError?.message ?? "the clean-up was not verified")
        }
        if !report.success {
            throw IntegrationFailure(description: "the run failed with \(report.errors.count) error(s); the report lists them")
        }
    }

    /// Writes the JSON report and the HTML page, prints the summary (or the report with
    /// `--json`), and lists the first errors on stderr.
    private func publish(_ report: IntegrationReport, output: Output) throws {
        let path = IntegrationReport.path(self.report, testID: report.testID)
        let json = try report.write(to: path)
        for error in report.errors.prefix(10) {
            let whose = [error.user, error.agent, error.turn.map { "turn \($0)" }].compactMap { $0 }.joined(separator: " ")
            output.log("error: \(error.phase.rawValue)\(whose.isEmpty ? "" : " " + whose): \(error.message)")
        }
        if report.errors.count > 10 { output.log("error: … and \(report.errors.count - 10) more in the report") }
        output.log("integration: report written to \(path) and \(IntegrationReport.htmlPath(for: path))")
        if output.json {
            output.write(String(decoding: json, as: UTF8.self) + "\n")
        } else {
            output.write(report.summary + "\nreport: \(path)\n")
        }
    }
}
