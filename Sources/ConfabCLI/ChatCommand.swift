import ArgumentParser
import ConfabClient
import Foundation

/// `confab chat`: one message, or a conversation read line by line from stdin; the reply is
/// written to stdout token by token.
struct ChatCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Chat with Confab: one message, or line by line from stdin until EOF or /quit.",
        discussion: """
            Starts a new session (playing --agent, if given) unless --session names one, and prints \
            its id on stderr so that the conversation can be continued with --session. With --json, \
            each reply is one JSON object on stdout instead of the streamed text.

            \(ExitStatus.help)
            """)

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "An agent of yours (agt_…) to play.")
    var agent: String?

    @Option(help: "Continue this session instead of starting one.")
    var session: String?

    @Argument(help: "The message; without it, messages are read from stdin, one a line.")
    var message: String?

    func run(client: ConfabClient, output: Output) async throws {
        let sessionID: String
        if let session {
            sessionID = session
        } else {
            sessionID = try await client.startSession(agentID: agent).sessionID
        }
        output.log("session: \(sessionID)")
        // A new session already plays the agent; an existing one is switched for each message.
        let agentForTurns = session == nil ? nil : agent
        let turn = Turn(client: client, output: output, sessionID: sessionID, agentID: agentForTurns)
        if let message {
            try await turn.send(message)
            return
        }
        var failures = 0
        while let line = Self.prompt(output) {
            if line == "/quit" { break }
            if line.trimmingCharacters(in: .whitespaces).isEmpty { continue }
            do {
                try await turn.send(line)
            } catch let failure as ReplyFailure {
                // The conversation goes on after a failed reply; the exit status remembers it.
                output.log("error: \(failure)")
                failures += 1
            }
        }
        output.log("continue with: confab chat --session \(sessionID)")
        if failures > 0 { throw ExitCode(ExitStatus.unavailable.rawValue) }
    }

    /// The next line of stdin (a prompt on stderr when a person is typing), nil at EOF.
    private static func prompt(_ output: Output) -> String? {
        if isatty(FileHandle.standardInput.fileDescriptor) != 0 {
            FileHandle.standardError.write(Data("> ".utf8))
        }
        return readLine()
    }
}
