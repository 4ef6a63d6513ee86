import ArgumentParser
import ConfabCLI
import ConfabCore
import ConfabServer
import Foundation
import Logging
import NIOCore
import NIOPosix

@main
struct Confab: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "A conversation service: chats kept in Redis, replies streamed over SSE; and its client.",
        subcommands: [Serve.self] + ConfabCLI.subcommands, defaultSubcommand: Serve.self)

    /// Usage errors exit 2, as the client subcommands document (ArgumentParser's own is 64).
    static func main() async {
        await ConfabCLI.main(root: Confab.self)
    }
}

/// `confab serve`: settings come from `.env`, then the environment, then these flags.
struct Serve: AsyncParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Serve the API and the web page.")

    @Option(help: "A .env file to read first (skipped when missing).") var envFile = ".env"
    @Option(help: "Address to listen on (CONFAB_HOST).") var host: String?
    @Option(help: "Port to listen on (CONFAB_PORT).") var port: Int?
    @Option(help: "Redis URL (REDIS_URL).") var redisURL: String?
    @Option(help: "OpenAI-compatible base URL (OPENAI_BASE_URL).") var openaiBaseURL: String?
    @Option(help: "Model name (OPENAI_MODEL).") var model: String?
    @Option(help: "Folder of the web page (CONFAB_STATIC_DIR).") var staticDir: String?
    @Option(help: "Log level (CONFAB_LOG_LEVEL).") var logLevel: String?

    func run() async throws {
        var environment: [String: String] = [:]
        if let contents = try? String(contentsOfFile: envFile, encoding: .utf8) {
            environment = DotEnv.parse(contents)
        }
        environment.merge(ProcessInfo.processInfo.environment) { _, process in process }
        let flags: [String: String?] = [
            "CONFAB_HOST": host, "CONFAB_PORT": port.map(String.init), "REDIS_URL": redisURL,
            "OPENAI_BASE_URL": openaiBaseURL, "OPENAI_MODEL": model, "CONFAB_STATIC_DIR": staticDir, "CONFAB_LOG_LEVEL": logLevel,
        ]
        for case let (key, value?) in flags { environment[key] = value }

        let settings: Settings
        do {
            settings = try Settings.load(from: environment)
        } catch {
            throw ValidationError(error.description)
        }
        if settings.eventLoopExecutor {
            // Tasks then run on the event-loop threads that do the I/O, instead of hopping to
            // Swift's own pool and back for every token (docs/PERFORMANCE.md has the figures).
            NIOSingletons.unsafeTryInstallSingletonPosixEventLoopGroupAsConcurrencyGlobalExecutor()
        }
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = settings.logLevel
            return handler
        }
        try await runConfab(settings: settings, logger: Logger(label: "confab"))
    }
}
