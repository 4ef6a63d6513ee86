import ArgumentParser
import ConfabCLI

/// Throwaway, for the client-cli branch only: `confab` with just the client subcommands, for
/// testing them without building the server. Remove on merge: the subcommands go into `confab`.
@main
struct ConfabCLIDev: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "confab", abstract: "Confab's client (development build).", subcommands: ConfabCLI.subcommands)

    static func main() async {
        await ConfabCLI.main(root: Self.self)
    }
}
