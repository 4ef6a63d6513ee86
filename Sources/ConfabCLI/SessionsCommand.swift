import ArgumentParser
import ConfabClient
import Foundation

/// `confab sessions list|show|delete|delete-all`: the caller's sessions.
struct SessionsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sessions", abstract: "List, show and delete your sessions.",
        discussion: ExitStatus.help,
        subcommands: [List.self, Show.self, Delete.self, DeleteAll.self])

    struct List: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "Your sessions, newest activity first.", discussion: ExitStatus.help)
        @OptionGroup var connection: ConnectionOptions
        @Option(help: "At most this many.") var limit: Int?

        func run(client: ConfabClient, output: Output) async throws {
            try output.result(try await client.sessions(limit: limit)) { sessions in
                Table(headers: ["ID", "TITLE", "PERSONA", "MESSAGES", "TOKENS", "UPDATED"], rows: sessions.map {
                    [$0.id, $0.title, $0.persona, String($0.messageCount), String($0.usage.totalTokens), Table.date($0.updatedAt)]
                }).render(empty: "no sessions")
            }
        }
    }

    struct Show: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "A session and its messages.", discussion: ExitStatus.help)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The session id.") var id: String

        func run(client: ConfabClient, output: Output) async throws {
            let shown = SessionWithHistory(session: try await client.session(id: id),
                                           messages: try await client.history(sessionID: id).messages)
            try output.result(shown) { shown in
                let session = shown.session
                let header = "\(session.id)  \(session.title.isEmpty ? "(untitled)" : session.title)\n"
                    + "persona \(session.persona), \(session.messageCount) messages, \(session.usage.totalTokens) tokens"
                let messages = shown.messages.map { message in
                    let status = message.status == "complete" ? "" : " [\(message.status)\(message.reason.map { ": \($0)" } ?? "")]"
                    return "\(message.role)\(status): \(message.content)"
                }
                return ([header] + messages).joined(separator: "\n\n")
            }
        }
    }

    struct Delete: ClientCommand {
        static let configuration = CommandConfiguration(abstract: "Delete sessions with their history.", discussion: ExitStatus.help)
        @OptionGroup var connection: ConnectionOptions
        @Argument(help: "The session ids.") var ids: [String]

        func validate() throws {
            if ids.isEmpty { throw ValidationError("name at least one session id") }
        }

        func run(client: ConfabClient, output: Output) async throws {
            var progress = ProgressLine("deleting sessions", total: ids.count, output: output)
            for (done, id) in ids.enumerated() {
                try await client.deleteSession(id: id)
                progress.advance(to: done + 1)
            }
            try output.result(["deleted": ids]) { "deleted \($0["deleted", default: []].count) session(s)" }
        }
    }

    struct DeleteAll: ClientCommand {
        static let configuration = CommandConfiguration(
            commandName: "delete-all", abstract: "Delete every one of your sessions.",
            discussion: "See also `confab cleanup`, which also checks that none is left.\n\n" + ExitStatus.help)
        @OptionGroup var connection: ConnectionOptions

        func run(client: ConfabClient, output: Output) async throws {
            try output.result(["deleted": try await client.deleteAllSessions()]) { "deleted \($0["deleted", default: 0]) session(s)" }
        }
    }
}

/// `sessions show --json`: the session and its messages, oldest first.
struct SessionWithHistory: Encodable {
    var session: Session
    var messages: [HistoryMessage]
}
