import ArgumentParser
import ConfabClient
import Foundation

/// `confab keys list|create|revoke`: your API keys.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys", abstract: "List, make and revoke your API keys.",
        discussion: ExitStatus.help,
        subcommands: [List.self, Create.self, Revoke.self])

    struct List: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "Your keys (never their secrets).", discussion: ExitStatus.help)
        @OptionGroup var connection: ConnectionOptions

        func run(client: ConfabClient, output: Output) async throws {
            try output.result(try await client.keys()) { keys in
                Table(headers: ["ID", "NAME", "PREFIX", "CREATED"], rows: keys.map {
                    [$0.id, $0.name, $0.prefix, Table.date($0.createdAt)]
                }).render(empty: "no keys")
            }
        }
    }

    struct Create: ClientCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a key; its secret is printed this once.", discussion: ExitStatus.help)
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "A name to recognise it by.") var name: String?

        func run(client: ConfabClient, output: Output) async throws {
            let key = try await client.createKey(name: name)
            if !output.json { output.log("key \(key.id) (\(key.name)); the secret below is not shown again:") }
            try output.result(key) { $0.key }
        }
    }

    struct Revoke: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key.", discussion: ExitStatus.help)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The key id (key_…).") var id: String

        func run(client: ConfabClient, output: Output) async throws {
            try await client.revokeKey(id: id)
            try output.result(["revoked": id]) { "revoked \($0["revoked", default: ""])" }
        }
    }
}
