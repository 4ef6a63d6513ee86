import ArgumentParser
import Foundation

/// The client subcommands of `confab`: `chat`, `sessions`, `agents`, `keys`, `cleanup` and
/// `integration`, for a root command to list beside `serve`.
public enum ConfabCLI {
    public static let subcommands: [any ParsableCommand.Type] = [
        ChatCommand.self, SessionsCommand.self, AgentsCommand.self, KeysCommand.self, CleanupCommand.self, IntegrationCommand.self,
    ]

    /// Runs `root` like ArgumentParser's own `main()`, except that a usage mistake exits with 2
    /// (``ExitStatus/usage``), as the subcommands document, instead of ArgumentParser's 64.
    public static func main(root: any AsyncParsableCommand.Type, arguments: [String]? = nil) async {
        do {
            var command = try root.parseAsRoot(arguments)
            if var asyncCommand = command as? any AsyncParsableCommand {
                try await asyncCommand.run()
            } else {
                try command.run()
            }
        } catch {
            if root.exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((root.fullMessage(for: error) + "\n").utf8))
                Foundation.exit(ExitStatus.usage.rawValue)
            }
            root.exit(withError: error)
        }
    }
}
