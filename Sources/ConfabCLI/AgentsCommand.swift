import ArgumentParser
import ConfabClient

/// `confab agents templates|list|create|show|delete`: the template library and your agents.
struct AgentsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "agents", abstract: "The agent templates, and your agents made from them.",
        discussion: ExitStatus.help,
        subcommands: [Templates.self, List.self, Create.self, Show.self, Delete.self])

    static func table(_ agents: [Agent]) -> String {
        Table(headers: ["ID", "NAME", "TEMPLATE", "MODEL", "TEMPERATURE"], rows: agents.map {
            [$0.id, $0.name, $0.templateID, $0.model ?? "-", $0.temperature.map { String($0) } ?? "-"]
        }).render(empty: "no agents")
    }

    struct Templates: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "The templates agents are made from.", discussion: ExitStatus.help)
        @OptionGroup var connection: ConnectionOptions

        func run(client: ConfabClient, output: Output) async throws {
            try output.result(try await client.agentTemplates()) { templates in
                Table(headers: ["ID", "NAME", "TOOLS", "DESCRIPTION"], rows: templates.map {
                    [$0.id, $0.name, $0.tools.isEmpty ? "-" : $0.tools.joined(separator: ","), $0.description]
                }).render(empty: "no templates")
            }
        }
    }

    struct List: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "Your agents.", discussion: ExitStatus.help)
        @OptionGroup var connection: ConnectionOptions

        func run(client: ConfabClient, output: Output) async throws {
            try output.result(try await client.agents(), human: AgentsCommand.table)
        }
    }

    struct Create: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "Make an agent from a template.", discussion: ExitStatus.help)
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "Its name.") var name: String
        @Option(help: "The template (see `confab agents templates`).") var template: String
        @Option(help: "The model it asks for, instead of the server's.") var model: String?
        @Option(help: "Sampling temperature, 0 to 2.") var temperature: Double?

        func run(client: ConfabClient, output: Output) async throws {
            let agent = try await client.createAgent(AgentFields(name: name, templateID: template, model: model, temperature: temperature))
            try output.result(agent) { AgentsCommand.table([$0]) }
        }
    }

    struct Show: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "One of your agents.", discussion: ExitStatus.help)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The agent id (agt_…).") var id: String

        func run(client: ConfabClient, output: Output) async throws {
            let agent = try await client.agent(id: id)
            try output.result(agent) { agent in
                AgentsCommand.table([agent]) + (agent.persona.map { "\n\npersona: \($0)" } ?? "")
            }
        }
    }

    struct Delete: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "Delete one of your agents.", discussion: ExitStatus.help)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The agent id (agt_…).") var id: String

        func run(client: ConfabClient, output: Output) async throws {
            try await client.deleteAgent(id: id)
            try output.result(["deleted": id]) { "deleted agent \($0["deleted", default: ""])" }
        }
    }
}
