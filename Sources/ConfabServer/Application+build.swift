import ConfabCore
import Hummingbird
import HummingbirdWebSocket
import HummingbirdWSCompression
import Logging
import NIOCore
import ServiceLifecycle

/// The routes of the API, the web page and the middleware around them.
public func buildRouter(_ dependencies: ConfabDependencies) -> Router<ConfabRequestContext> {
    buildRouters(dependencies).http
}

/// The HTTP router and, beside it, the router of the WebSocket upgrades (docs/WEBSOCKET.md).
/// Both authenticate with the same middleware; a refused upgrade is answered as the HTTP API
/// would answer it (`UpgradeRefusalMiddleware`).
func buildRouters(_ dependencies: ConfabDependencies) -> (http: Router<ConfabRequestContext>, webSocket: Router<ConfabRequestContext>) {
    let router = Router(context: ConfabRequestContext.self)
    let routes = RouteTable(router: router)
    let authenticator = BearerAuthenticator(accounts: dependencies.accounts, tokens: dependencies.tokens,
                                            settings: dependencies.settings.identity)
    let webSocket = Router(context: ConfabRequestContext.self)
    webSocket.add(middleware: UpgradeRefusalMiddleware())
    webSocket.add(middleware: ShutdownGate(activeTurns: dependencies.turns.activeTurns))
    webSocket.add(middleware: authenticator)
    router.add(middleware: CORS(origins: dependencies.settings.corsOrigins))
    router.add(middleware: JSONErrorMiddleware())
    router.add(middleware: ShutdownGate(activeTurns: dependencies.turns.activeTurns))
    router.add(middleware: MethodCheck(routes: routes.paths))
    router.add(middleware: QueryEncodingCheck())
    // The page, and the API's OpenAPI document at /openapi.json.
    router.add(middleware: FileMiddleware(dependencies.settings.staticDir, searchForIndexHtml: true))
    // Who is asking, for every API route (files are served before this, without a Redis look-up).
    router.add(middleware: authenticator)
    addAPIRoutes(to: routes, dependencies, webSocket: (webSocket, authenticator))
    return (router, webSocket)
}

/// The API's paths and the methods each takes, as registered; tests hold the OpenAPI document to it.
public func apiRoutes(_ dependencies: ConfabDependencies) -> [String: [String]] {
    let routes = RouteTable(router: Router(context: ConfabRequestContext.self))
    addAPIRoutes(to: routes, dependencies)
    return routes.methods.mapValues { $0.map(\.rawValue) }
}

private func addAPIRoutes(to routes: RouteTable<ConfabRequestContext>, _ dependencies: ConfabDependencies,
                          webSocket: (router: Router<ConfabRequestContext>, authenticator: BearerAuthenticator)? = nil) {
    let validation = Validation(settings: dependencies.settings, personas: dependencies.turns.personas)
    let (turns, accounts) = (dependencies.turns, dependencies.accounts)
    ServiceController(store: turns.store, personas: turns.personas, metrics: dependencies.metrics).addRoutes(to: routes)
    let chat = ChatController(turns: turns, validate: validation, accounts: accounts)
    chat.addRoutes(to: routes)
    UIChatController(turns: turns, validate: validation).addRoutes(to: routes)
    SessionsController(store: turns.store, validate: validation, accounts: accounts).addRoutes(to: routes)
    AuthController(accounts: accounts, store: turns.store, tokens: dependencies.tokens, passwords: dependencies.passwords,
                   validate: validation).addRoutes(to: routes)
    KeysController(accounts: accounts, validate: validation).addRoutes(to: routes)
    AgentsController(accounts: accounts, templates: turns.templates, tools: turns.tools, validate: validation).addRoutes(to: routes)
    TenantController(accounts: accounts, passwords: dependencies.passwords, validate: validation).addRoutes(to: routes)
    AdminController(accounts: accounts, validate: validation).addRoutes(to: routes)
    let completions = ChatCompletions(turns: turns, validate: validation, models: ModelCatalog(turns: turns, accounts: accounts))
    OpenAIChatController(completions: completions).addRoutes(to: routes)
    OpenWebUIController(completions: completions).addRoutes(to: routes)
    let responses = ResponsesController(completions: completions)
    responses.addRoutes(to: routes)
    ConversationsController(turns: turns, validate: validation).addRoutes(to: routes)
    // The WebSocket doors: their upgrade routes, and the plain-HTTP answers on the same paths.
    let socketRouter = webSocket?.router ?? Router(context: ConfabRequestContext.self)
    let authenticator = webSocket?.authenticator ?? BearerAuthenticator(accounts: accounts, tokens: dependencies.tokens,
                                                                        settings: dependencies.settings.identity)
    ChatSocketController(chat: chat, authenticator: authenticator).addRoutes(to: socketRouter, http: routes)
    ResponsesSocketController(responses: responses, authenticator: authenticator).addRoutes(to: socketRouter, http: routes)
    MaimController(chat: chat, authenticator: authenticator).addRoutes(to: socketRouter, http: routes)
}

/// The HTTP application on the configured host and port.
/// `onServerRunning` is told the listening channel (tests read the port from it).
public func buildApplication(_ dependencies: ConfabDependencies, logger: Logger,
                             onServerRunning: @escaping @Sendable (any Channel) async -> Void = { _ in }) -> some ApplicationProtocol {
    let settings = dependencies.settings
    let routers = buildRouters(dependencies)
    // Each route holds its messages to its own limit (Confab's socket, or a Responses body).
    let maxMessage = max(settings.webSocketMaxMessageBytes, settings.maxChatBodyBytes)
    let webSocket = WebSocketServerConfiguration(
        maxFrameSize: maxMessage,
        extensions: [.perMessageDeflate(maxDecompressedFrameSize: maxMessage)],
        autoPing: .enabled(timePeriod: .milliseconds(Int64(settings.webSocketPingSeconds * 1000))))
    return Application(router: routers.http,
                       // A stalled request (slow loris) or an idle keep-alive connection is closed;
                       // a streaming reply is not (Hummingbird counts only time spent reading).
                       server: RefusalAnsweringChannel.server(webSocketRouter: routers.webSocket, configuration: .init(
                           http1: .init(idleTimeout: .milliseconds(Int64(settings.requestIdleTimeout * 1000))), ws: webSocket)),
                       configuration: .init(address: .hostname(settings.host, port: settings.port),
                                            serverName: "Confab", backlog: settings.listenBacklog),
                       onServerRunning: onServerRunning,
                       logger: logger)
}

/// Runs Confab until SIGINT or SIGTERM. On a signal the running turns end first (their partial
/// replies stored with reason `shutdown`), then the server stops, then the connections close.
public func runConfab(settings: Settings, logger: Logger) async throws {
    let dependencies = try await ConfabDependencies.live(settings: settings, logger: logger)
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
