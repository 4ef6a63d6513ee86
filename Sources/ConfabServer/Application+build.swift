import AsyncHTTPClient
import ConfabCore
import Foundation
import Hummingbird
import Logging
import NIOCore
import RedisClient
import ServiceLifecycle

/// The parts a running Confab is made of, built from its settings.
public struct ConfabDependencies: Sendable {
    public var settings: Settings
    public var turns: TurnEnvironment
    /// Closed when the application stops.
    var redis: RedisClient?
    var httpClient: HTTPClient?

    /// The real thing: Redis at `REDIS_URL`, the model at `OPENAI_BASE_URL`.
    public static func live(settings: Settings, logger: Logger) throws -> ConfabDependencies {
        let redis = RedisClient(configuration: try RedisConfiguration(url: settings.redisURL, poolSize: settings.redisPoolSize))
        var configuration = HTTPClient.Configuration()
        configuration.timeout.connect = .milliseconds(Int64(settings.upstreamConnectTimeout * 1000))
        // Idle reads are the turn's own deadline; this only backs it up.
        configuration.timeout.read = .milliseconds(Int64(max(settings.idleTimeout, settings.firstTokenTimeout) * 1000) + 5000)
        let httpClient = HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
        let model = OpenAIChatModel(client: httpClient, configuration: .init(
            baseURL: settings.openAIBaseURL, apiKey: settings.openAIAPIKey, model: settings.openAIModel,
            maxTokens: settings.maxReplyTokens > 0 ? settings.maxReplyTokens : nil,
            headTimeoutSeconds: settings.firstTokenTimeout))
        let store = RedisConversationStore(redis: redis, cap: settings.historyCap, ttlSeconds: settings.historyTTLSeconds,
                                           debugTTLSeconds: settings.debugCaptureTTLSeconds)
        let turns = TurnEnvironment(store: store, model: model, personas: PersonaCatalog(), settings: settings.turn,
                                    activeTurns: ActiveTurns(), logger: logger)
        return ConfabDependencies(settings: settings, turns: turns, redis: redis, httpClient: httpClient)
    }

    /// Closes the connections to Redis and the model server.
    public func shutdown() async {
        try? await httpClient?.shutdown()
        await redis?.shutdown()
    }
}

/// The routes of the API, the web page and the middleware around them.
public func buildRouter(_ dependencies: ConfabDependencies) -> Router<BasicRequestContext> {
    let settings = dependencies.settings
    let router = Router()
    router.add(middleware: CORS(origins: settings.corsOrigins))
    router.add(middleware: JSONErrorMiddleware())
    router.add(middleware: FileMiddleware(settings.staticDir, searchForIndexHtml: true))
    let routes = RouteTable(router: router)
    let validation = Validation(settings: settings, personas: dependencies.turns.personas)
    ServiceController(store: dependencies.turns.store, personas: dependencies.turns.personas,
                      activeTurns: dependencies.turns.activeTurns).addRoutes(to: routes)
    ChatController(turns: dependencies.turns, validate: validation).addRoutes(to: routes)
    SessionsController(store: dependencies.turns.store, validate: validation).addRoutes(to: routes)
    routes.refuseOtherMethods()
    return router
}

/// The HTTP application on the configured host and port.
/// `onServerRunning` is told the listening channel (tests read the port from it).
public func buildApplication(_ dependencies: ConfabDependencies, logger: Logger,
                             onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }) -> some ApplicationProtocol {
    Application(router: buildRouter(dependencies),
                configuration: .init(address: .hostname(dependencies.settings.host, port: dependencies.settings.port),
                                     serverName: "Confab"),
                onServerRunning: onServerRunning,
                logger: logger)
}

/// Runs Confab until SIGINT or SIGTERM. On a signal the running turns end first (their partial
/// replies stored with reason `shutdown`), then the server stops, then the connections close.
public func runConfab(settings: Settings, logger: Logger) async throws {
    let dependencies = try ConfabDependencies.live(settings: settings, logger: logger)
    let app = buildApplication(dependencies, logger: logger)
    let drain = TurnDrainService(activeTurns: dependencies.turns.activeTurns,
                                 grace: .milliseconds(Int64(settings.shutdownGraceSeconds * 1000)), logger: logger)
    // ServiceGroup stops services in reverse order: the drain before the server.
    let group = ServiceGroup(configuration: .init(services: [app, drain], gracefulShutdownSignals: [.sigterm, .sigint],
                                                  logger: logger))
    logger.info("Confab listening", metadata: ["url": "http://\(settings.host):\(settings.port)",
                                               "model": "\(settings.openAIModel)", "upstream": "\(settings.openAIBaseURL)"])
    do {
        try await group.run()
    } catch {
        await dependencies.shutdown()
        throw error
    }
    await dependencies.shutdown()
}

/// On shutdown: refuses new turns and ends the running ones, waiting at most `grace`.
struct TurnDrainService: Service {
    let activeTurns: ActiveTurns
    let grace: Duration
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        logger.info("shutting down", metadata: ["active_turns": "\(activeTurns.count)"])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await activeTurns.shutdown() }
            group.addTask { try? await Task.sleep(for: grace) }
            await group.next()
            group.cancelAll()
        }
    }
}
