import AsyncHTTPClient
import ConfabCore
import Logging
import Prometheus
import RedisClient

/// The parts a running Confab is made of, built from its settings.
public struct ConfabDependencies: Sendable {
    public var settings: Settings
    public var turns: TurnEnvironment
    /// Accounts, tenants, keys, agents and rate meters.
    public var accounts: any AccountStore
    var tokens: AccessTokens
    var passwords: Passwords
    /// What `GET /metrics` shows.
    public var metrics: PrometheusCollectorRegistry
    /// Closed when the application stops.
    var redis: RedisClient?
    var httpClients: [HTTPClient] = []

    /// The real thing: Redis at `REDIS_URL`, the model at `OPENAI_BASE_URL`.
    public static func live(settings: Settings, logger: Logger) async throws -> ConfabDependencies {
        let (metrics, factory) = makeMetrics()
        let redis = RedisClient(configuration: try RedisConfiguration(url: settings.redisURL, poolSize: settings.redisPoolSize,
                                                                           commandTimeoutSeconds: settings.redisCommandTimeout),
                                metrics: RedisClientMetrics(factory: factory))
        var configuration = HTTPClient.Configuration()
        // AsyncHTTPClient's default of 8 connections per host would queue the ninth stream.
        configuration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = settings.upstreamMaxConnections
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
        let personas = PersonaCatalog()
        let accounts = RedisAccountStore(redis: redis)
        // fetch_url gets a client of its own that never follows a redirect off the allow-list.
        let fetchClient = settings.fetchURLAllow.isEmpty ? nil : HTTPClient(eventLoopGroupProvider: .singleton,
                                                                            configuration: .init(redirectConfiguration: .disallow))
        let tools = ToolRegistry.builtIn(agents: AccountAgentDirectory(templates: AgentTemplateCatalog(personas: personas), accounts: accounts),
                                         fetcher: fetchClient.map { URLFetcher(client: $0, allowedHosts: settings.fetchURLAllow) })
        let turns = TurnEnvironment(store: store, model: model, personas: personas, tools: tools, settings: settings.turn,
                                    activeTurns: ActiveTurns(), metrics: TurnMetrics(factory: factory), logger: logger)
        let passwords = Passwords(cost: settings.identity.bcryptCost)
        Task { await passwords.prepareDecoy() }
        return ConfabDependencies(settings: settings, turns: turns, accounts: accounts,
                                  tokens: await AccessTokens.make(settings: settings.identity, logger: logger),
                                  passwords: passwords, metrics: metrics, redis: redis,
                                  httpClients: [httpClient] + (fetchClient.map { [$0] } ?? []))
    }

    /// Closes the connections to Redis and the model server.
    public func shutdown() async {
        for client in httpClients { try? await client.shutdown() }
        await redis?.shutdown()
    }
}

/// A registry of this instance's own (so tests can run several apps in one process), with
/// histogram buckets that resolve a token relay measured in milliseconds.
func makeMetrics() -> (PrometheusCollectorRegistry, PrometheusMetricsFactory) {
    let registry = PrometheusCollectorRegistry()
    var factory = PrometheusMetricsFactory(registry: registry)
    factory.durationHistogramBuckets["confab_first_token_seconds"] =
        [1, 2, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000].map { .milliseconds($0) }
    factory.durationHistogramBuckets["confab_turn_duration_seconds"] =
        [10, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 120000, 300000].map { .milliseconds($0) }
    return (registry, factory)
}
