import ArgumentParser
import ConfabClient

/// A subcommand that talks to Confab. It implements `run(client:output:)`; running it here
/// turns any failure into one message on stderr and the exit status that names it.
protocol ClientCommand: AsyncParsableCommand {
    var connection: ConnectionOptions { get }
    func run(client: ConfabClient, output: Output) async throws
}

extension ClientCommand {
    mutating func run() async throws {
        let output = connection.output
        do {
            try await run(client: connection.client(), output: output)
        } catch let exit as ExitCode {
            throw exit
        } catch {
            output.log("error: \(error)")
            throw ExitCode(ExitStatus(for: error).rawValue)
        }
    }
}
