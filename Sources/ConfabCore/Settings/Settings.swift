import Logging

/// Every setting of the service, read from the environment (after a `.env` file, before
/// command-line flags). `.env.example` documents each one. Invalid values stop start-up.
public struct Settings: Sendable {
    public var host = "127.0.0.1"
    public var port = 8080
    /// Connections waiting to be accepted; the kernel caps it at net.core.somaxconn.
    public var listenBacklog = 4096
    public var redisURL = "redis://127.0.0.1:6379"
    public var redisPoolSize = 4
    /// Seconds a Redis command may wait for its reply before the connection is dropped and re-made.
    public var redisCommandTimeout = 2.0
    public var openAIBaseURL = "http://127.0.0.1:8081/v1"
    public var openAIAPIKey: String?
    public var openAIModel = "SmolLM2-135M-Instruct"
    /// 0 leaves the reply length to the model server.
    public var maxReplyTokens = 512
    public var historyCap = 50
    public var historyWindow = 20
    public var historyCharBudget = 12_000
    public var historyTTLSeconds = 7 * 24 * 3600
    public var maxMessageChars = 8_000
    public var maxBodyBytes = 64 * 1024
    /// `POST /api/chat` carries the whole chat (useChat sends it every time).
    public var maxChatBodyBytes = 4 * 1024 * 1024
    public var maxUserIDLength = 64
    /// A regular expression user ids must also match (on top of the safe character set); empty for none.
    public var userIDPattern = ""
    public var sessionListLimit = 100
    public var maxSessionsPerUser = 1000
    /// Seconds a connection may send nothing while its request is read, or idle between requests.
    public var requestIdleTimeout = 30.0
    public var corsOrigins: [String] = []
    public var logLevel = Logger.Level.info
    public var staticDir = "static"
    public var upstreamConnectTimeout = 5.0
    /// Connections to the model server at once; a stream holds one, so this bounds streams.
    public var upstreamMaxConnections = 4096
    public var firstTokenTimeout = 60.0
    public var idleTimeout = 30.0
    public var turnTimeout = 300.0
    public var debugCapture = false
    public var debugCaptureTTLSeconds = 3600
    public var shutdownGraceSeconds = 10.0
    public var keepAliveSeconds = 15.0
    /// Model calls per turn at most (tool results go back to the model between them).
    public var maxToolSteps = 5
    public var toolTimeout = 10.0
    /// Hosts `fetch_url` may fetch from; empty turns the tool off.
    public var fetchURLAllow: [String] = []
    /// What a turn does when its client leaves: store the partial and cancel the model request,
    /// or finish the reply and store it whole.
    public var onDisconnect = DisconnectPolicy.cancel
    /// The largest WebSocket message a client may send; a larger one closes the socket (1009).
    public var webSocketMaxMessageBytes = 64 * 1024
    /// Seconds between the server's pings on an idle WebSocket (a peer that misses one is dropped).
    public var webSocketPingSeconds = 30.0
    /// maim_message bots get the reply as several messages (one per sentence) while it streams.
    public var maimStreamReplies = false
    /// Run Swift tasks on SwiftNIO's event loops (set once, at start-up, by `confab serve`).
    public var eventLoopExecutor = false
    public var identity = IdentitySettings()

    public init() {}

    /// Reads the settings from environment variables; unset ones keep their defaults.
    public static func load(from environment: [String: String]) throws(SettingsError) -> Settings {
        let read = SettingsReader(environment: environment)
        var s = Settings()
        s.host = read.string("CONFAB_HOST", s.host)
        s.port = try read.int("CONFAB_PORT", s.port, in: 1...65535)
        s.listenBacklog = try read.int("CONFAB_LISTEN_BACKLOG", s.listenBacklog, in: 1...65535)
        s.redisURL = read.string("REDIS_URL", s.redisURL)
        guard s.redisURL.hasPrefix("redis://") else {
            throw SettingsError(name: "REDIS_URL", value: s.redisURL, expected: "a redis://host:port[/db] URL")
        }
        s.redisPoolSize = try read.int("REDIS_POOL_SIZE", s.redisPoolSize, in: 1...64)
        s.redisCommandTimeout = try read.seconds("REDIS_COMMAND_TIMEOUT", s.redisCommandTimeout)
        s.openAIBaseURL = read.string("OPENAI_BASE_URL", s.openAIBaseURL)
        guard s.openAIBaseURL.hasPrefix("http://") || s.openAIBaseURL.hasPrefix("https://") else {
            throw SettingsError(name: "OPENAI_BASE_URL", value: s.openAIBaseURL, expected: "an http:// or https:// URL")
        }
        s.openAIAPIKey = environment["OPENAI_API_KEY"].flatMap { $0.isEmpty ? nil : $0 }
        s.openAIModel = read.string("OPENAI_MODEL", s.openAIModel)
        s.upstreamMaxConnections = try read.int("CONFAB_UPSTREAM_MAX_CONNECTIONS", s.upstreamMaxConnections, in: 1...100_000)
        s.maxReplyTokens = try read.int("CONFAB_MAX_REPLY_TOKENS", s.maxReplyTokens, in: 0...1_000_000)
        s.historyCap = try read.int("CONFAB_HISTORY_CAP", s.historyCap, in: 1...10_000)
        s.historyWindow = try read.int("CONFAB_HISTORY_WINDOW", s.historyWindow, in: 1...10_000)
        s.historyCharBudget = try read.int("CONFAB_HISTORY_CHAR_BUDGET", s.historyCharBudget, in: 100...10_000_000)
        s.historyTTLSeconds = try read.int("CONFAB_HISTORY_TTL_SECONDS", s.historyTTLSeconds, in: 60...365 * 24 * 3600)
        s.maxMessageChars = try read.int("CONFAB_MAX_MESSAGE_CHARS", s.maxMessageChars, in: 1...1_000_000)
        s.maxBodyBytes = try read.int("CONFAB_MAX_BODY_BYTES", s.maxBodyBytes, in: 1024...16 * 1024 * 1024)
        s.maxChatBodyBytes = try read.int("CONFAB_MAX_CHAT_BODY_BYTES", s.maxChatBodyBytes, in: 1024...64 * 1024 * 1024)
        s.maxUserIDLength = try read.int("CONFAB_MAX_USER_ID_LENGTH", s.maxUserIDLength, in: 1...256)
        s.userIDPattern = read.string("CONFAB_USER_ID_PATTERN", "")
        if !s.userIDPattern.isEmpty, (try? NSRegularExpression(pattern: s.userIDPattern)) == nil {
            throw SettingsError(name: "CONFAB_USER_ID_PATTERN", value: s.userIDPattern, expected: "a valid regular expression")
        }
        s.sessionListLimit = try read.int("CONFAB_SESSION_LIST_LIMIT", s.sessionListLimit, in: 1...100_000)
        s.corsOrigins = read.string("CONFAB_CORS_ORIGINS", "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let level = read.string("CONFAB_LOG_LEVEL", s.logLevel.rawValue)
        guard let parsed = Logger.Level(rawValue: level.lowercased()) else {
            throw SettingsError(name: "CONFAB_LOG_LEVEL", value: level, expected: "trace, debug, info, notice, warning, error or critical")
        }
        s.logLevel = parsed
        s.staticDir = read.string("CONFAB_STATIC_DIR", s.staticDir)
        s.upstreamConnectTimeout = try read.seconds("CONFAB_UPSTREAM_CONNECT_TIMEOUT", s.upstreamConnectTimeout)
        s.firstTokenTimeout = try read.seconds("CONFAB_FIRST_TOKEN_TIMEOUT", s.firstTokenTimeout)
        s.idleTimeout = try read.seconds("CONFAB_IDLE_TIMEOUT", s.idleTimeout)
        s.turnTimeout = try read.seconds("CONFAB_TURN_TIMEOUT", s.turnTimeout)
        s.debugCapture = try read.bool("CONFAB_DEBUG_CAPTURE", s.debugCapture)
        s.maxSessionsPerUser = try read.int("CONFAB_MAX_SESSIONS_PER_USER", s.maxSessionsPerUser, in: 1...1_000_000)
        s.requestIdleTimeout = try read.seconds("CONFAB_REQUEST_IDLE_TIMEOUT", s.requestIdleTimeout)
        s.eventLoopExecutor = try read.bool("CONFAB_EVENT_LOOP_EXECUTOR", s.eventLoopExecutor)
        s.debugCaptureTTLSeconds = try read.int("CONFAB_DEBUG_CAPTURE_TTL_SECONDS", s.debugCaptureTTLSeconds, in: 1...7 * 24 * 3600)
        s.shutdownGraceSeconds = try read.seconds("CONFAB_SHUTDOWN_GRACE", s.shutdownGraceSeconds)
        s.keepAliveSeconds = try read.seconds("CONFAB_KEEPALIVE_SECONDS", s.keepAliveSeconds)
        s.maxToolSteps = try read.int("CONFAB_MAX_TOOL_STEPS", s.maxToolSteps, in: 1...20)
        s.toolTimeout = try read.seconds("CONFAB_TOOL_TIMEOUT", s.toolTimeout)
        s.fetchURLAllow = read.string("CONFAB_FETCH_URL_ALLOW", "").split(separator: ",")
            .map { $0.trimmingCharacters(in: .whitespaces).lowercased() }.filter { !$0.isEmpty }
        let policy = read.string("CONFAB_ON_DISCONNECT", s.onDisconnect.rawValue)
        guard let parsed = DisconnectPolicy(rawValue: policy) else {
            throw SettingsError(name: "CONFAB_ON_DISCONNECT", value: policy, expected: "cancel or continue")
        }
        s.onDisconnect = parsed
        s.webSocketMaxMessageBytes = try read.int("CONFAB_WS_MAX_MESSAGE_BYTES", s.webSocketMaxMessageBytes, in: 1024...16 * 1024 * 1024)
        s.webSocketPingSeconds = try read.seconds("CONFAB_WS_PING_SECONDS", s.webSocketPingSeconds)
        s.maimStreamReplies = try read.bool("CONFAB_MAIM_STREAM", s.maimStreamReplies)
        s.identity = try IdentitySettings.load(read)
        return s
    }

    /// The turn's view of these settings.
    public var turn: TurnSettings {
        TurnSettings(prompt: PromptBuilder(window: historyWindow, characterBudget: historyCharBudget),
                     firstTokenTimeout: .milliseconds(Int64(firstTokenTimeout * 1000)),
                     idleTimeout: .milliseconds(Int64(idleTimeout * 1000)),
                     totalTimeout: .milliseconds(Int64(turnTimeout * 1000)),
                     debugCapture: debugCapture,
                     keepAliveInterval: .milliseconds(Int64(keepAliveSeconds * 1000)),
                     maxSteps: maxToolSteps, toolTimeout: .milliseconds(Int64(toolTimeout * 1000)))
    }
}

/// What happens to a turn whose client leaves mid-reply.
public enum DisconnectPolicy: String, Sendable {
    /// Store the partial reply (reason `client_disconnected`) and cancel the model request.
    case cancel
    /// Let the reply finish and store it whole, though nobody watches.
    case `continue`
}

/// A setting with a value that cannot be used; the message names it.
public struct SettingsError: Error, CustomStringConvertible, Equatable {
    public var name: String
    public var value: String
    public var expected: String

    public var description: String { "invalid setting \(name)=\"\(value)\": expected \(expected)" }
}

struct SettingsReader {
    let environment: [String: String]

    func string(_ name: String, _ fallback: String) -> String {
        environment[name].flatMap { $0.isEmpty ? nil : $0 } ?? fallback
    }

    func int(_ name: String, _ fallback: Int, in range: ClosedRange<Int>) throws(SettingsError) -> Int {
        guard let raw = environment[name], !raw.isEmpty else { return fallback }
        guard let value = Int(raw), range.contains(value) else {
            throw SettingsError(name: name, value: raw, expected: "a whole number from \(range.lowerBound) to \(range.upperBound)")
        }
        return value
    }

    func seconds(_ name: String, _ fallback: Double) throws(SettingsError) -> Double {
        guard let raw = environment[name], !raw.isEmpty else { return fallback }
        guard let value = Double(raw), value > 0, value <= 86_400 else {
            throw SettingsError(name: name, value: raw, expected: "a number of seconds above 0 and at most 86400")
        }
        return value
    }

    func bool(_ name: String, _ fallback: Bool) throws(SettingsError) -> Bool {
        guard let raw = environment[name], !raw.isEmpty else { return fallback }
        switch raw.lowercased() {
        case "1", "true", "yes", "on": return true
        case "0", "false", "no", "off": return false
        default: throw SettingsError(name: name, value: raw, expected: "true or false")
        }
    }
}

import Foundation
