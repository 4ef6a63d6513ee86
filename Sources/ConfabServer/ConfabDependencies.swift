import AsyncHTTPClient
import ConfabCore
import Logging
import RedisClient

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
