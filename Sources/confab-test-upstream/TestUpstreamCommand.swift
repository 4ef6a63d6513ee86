import ArgumentParser
import TestUpstream

/// Runs the test upstream on its own, for the browser test and the benchmark.
@main
struct TestUpstreamCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "confab-test-upstream",
        abstract: "An OpenAI-compatible streaming server with fault modes, for tests.")

    @Option var host = "127.0.0.1"
    @Option var port = 8090
    @Option(help: "Pad every reply to this many pieces.") var tokens = 0
    @Option(help: "Delay before the first piece.") var firstTokenDelayMs = 0
    @Option(help: "Delay between pieces.") var tokenDelayMs = 0

    func run() async throws {
        let upstream = TestUpstream(options: .init(tokens: tokens, firstTokenDelayMS: firstTokenDelayMs, tokenDelayMS: tokenDelayMs))
        let server = try await upstream.serve(host: host, port: port)
        print("confab-test-upstream listening on http://\(host):\(server.port)/v1")
        try await server.closed.get()
    }
}
