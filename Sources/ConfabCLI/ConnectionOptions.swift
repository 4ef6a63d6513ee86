import ArgumentParser
import ConfabClient
import Foundation

/// The options every client subcommand takes: where Confab is, the credentials, and whether
/// output is for people or programs.
struct ConnectionOptions: ParsableArguments {
    static let defaultURL = "http://127.0.0.1:8080"

    @Option(help: "Confab's base URL (else CONFAB_URL, else \(Self.defaultURL)).")
    var url: String?

    @Option(help: "An API key (cfk_…) or access token (else CONFAB_API_KEY).")
    var apiKey: String?

    @Flag(help: "Machine output: JSON on stdout (logs and progress stay on stderr).")
    var json = false

    /// A client for the chosen server and credentials; flags win over the environment.
    func client() -> ConfabClient {
        let environment = ProcessInfo.processInfo.environment
        return ConfabClient(baseURL: url ?? environment["CONFAB_URL"] ?? Self.defaultURL,
                            apiKey: apiKey ?? environment["CONFAB_API_KEY"])
    }

    var output: Output { Output(json: json) }
}
