import AsyncHTTPClient
import ConfabCore
import ConfabServer
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import RedisClient
import ServerSentEvents
import Testing
import TestSupport
import TestUpstream

/// A running Confab on real Redis and the test upstream, with an HTTP client to talk to it.
struct Harness: Sendable {
    let baseURL: String
    let redisServer: RedisServer
    let redis: RedisClient
    let upstream: TestUpstream
    let upstreamURL: String
    let dependencies: ConfabDependencies
    let http: HTTPClient

    static let packageRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    struct Reply: Sendable {
        var status: Int
        var headers: [String: String]
        var body: String
        var json: [String: Any] { ((try? JSONSerialization.jsonObject(with: Data(body.utf8))) as? [String: Any]) ?? [:] }
        var errorCode: String? { (json["error"] as? [String: Any])?["code"] as? String }
    }

    func request(_ method: HTTPMethod, _ path: String, body: String? = nil, bytes: [UInt8]? = nil,
                 headers: [String: String] = [:]) async throws -> Reply {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let bytes = bytes ?? body.map({ Array($0.utf8) }) {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: bytes))
        }
        let response = try await http.execute(request, timeout: .seconds(30))
        let bytes = try await response.body.collect(upTo: 10 * 1024 * 1024)
        return Reply(status: Int(response.status.code), headers: Self.headers(response), body: String(buffer: bytes))
    }

    static func headers(_ response: HTTPClientResponse) -> [String: String] {
        Dictionary(response.headers.map { ($0.name.lowercased(), $0.value) }, uniquingKeysWith: { first, _ in first })
    }

    func get(_ path: String) async throws -> Reply { try await request(.GET, path) }
    func delete(_ path: String) async throws -> Reply { try await request(.DELETE, path) }
    func post(_ path: String, _ json: [String: Any]? = nil) async throws -> Reply {
        try await request(.POST, path, body: json.map { String(decoding: try! JSONSerialization.data(withJSONObject: $0), as: UTF8.self) })
    }

    func startSession(_ user: String, role: String? = nil) async throws -> String {
        let reply = try await post("/chat/start?user_id=\(user)" + (role.map { "&role=\($0)" } ?? ""))
        #expect(reply.status == 200, "start: \(reply.body)")
        return try #require(reply.json["session_id"] as? String)
    }

    /// The SSE `data:` payloads of one streamed turn, read to the end.
    struct Stream: Sendable {
        var status: Int
        var headers: [String: String]
        var data: [String]
        var objects: [[String: Any]] {
            data.compactMap { (try? JSONSerialization.jsonObject(with: Data($0.utf8))) as? [String: Any] }
        }
        var text: String { objects.compactMap { $0["content"] as? String }.joined() }
        var last: [String: Any] { objects.last ?? [:] }
    }

    func streamPath(user: String, session: String, message: String, role: String? = nil) -> String {
        var query = "user_id=\(user)&session_id=\(session)&message=\(message.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!)"
        if let role { query += "&role=\(role)" }
        return "/chat/stream?" + query
    }

    /// Streams a turn; with `leaveAfter`, leaves after that many text events by closing the
    /// socket itself (see `leave`).
    func stream(_ path: String, method: HTTPMethod = .GET, body: String? = nil, headers: [String: String] = [:],
                leaveAfter: Int? = nil) async throws -> Stream {
        if let leaveAfter { return try await leave(path, method: method, body: body, after: leaveAfter) }
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: body))
        }
        let response = try await http.execute(request, timeout: .seconds(30))
        var result = Stream(status: Int(response.status.code), headers: Harness.headers(response), data: [])
        var decoder = ServerSentEventParser()
        for try await buffer in response.body {
            guard response.status == .ok else {
                result.data.append(String(buffer: buffer))
                continue
            }
            result.data += decoder.feed(buffer.readableBytesView).map(\.data)
        }
        return result
    }

    /// A client that leaves mid-reply: reads on a plain socket and, after `after` text events,
    /// shuts the socket down and closes it, as a browser tab closing does. (Returning early from
    /// an HTTP client's body iterator need not close its connection at once, so Confab might
    /// never see the client go.)
    func leave(_ path: String, method: HTTPMethod, body: String?, after: Int) async throws -> Stream {
        let connection = try RawConnection(port: port)
        defer { connection.leave() }
        var response = try await RawHTTPResponse(connection: connection, method: method.rawValue, path: path, body: body)
        var result = Stream(status: response.status, headers: response.headers, data: [])
        var decoder = ServerSentEventParser()
        var texts = 0
        while let bytes = await response.nextBody() {
            guard response.status == 200 else {
                result.data.append(String(decoding: bytes, as: UTF8.self))
                continue
            }
            for event in decoder.feed(bytes[...]) {
                result.data.append(event.data)
                if event.data.hasPrefix("{\"content\"") { texts += 1 }
                if texts >= after { return result }
            }
        }
        return result
    }

    var port: Int { Int(baseURL.split(separator: ":").last!)! }

    /// Waits until a reply streams for an anonymous user's session (its lock is taken), up to 10 s.
    func waitUntilStreaming(_ user: String, _ session: String) async throws {
        try await waitUntilStreaming(storeID: "anon:" + user, session)
    }

    /// The same for the user the store knows by `storeID` (`anon:<name>`, or a registered user's id).
    func waitUntilStreaming(storeID user: String, _ session: String) async throws {
        for _ in 0..<1000 {
            if try await redis.send(RedisCommand("EXISTS", "confab:{u:\(user)}:session:\(session):lock")).int == 1 { return }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("no reply started streaming for \(session)")
    }

    /// Runs a second Confab instance on the same Redis and upstream while `body` runs.
    func withSecondInstance(_ body: (Harness) async throws -> Void) async throws {
        var settings = dependencies.settings
        settings.port = 0
        var logger = Logger(label: "second")
        logger.logLevel = .critical
        let other = try await ConfabDependencies.live(settings: settings, logger: logger)
        let (ports, sink) = AsyncStream<Int>.makeStream()
        let app = buildApplication(other, logger: logger) { sink.yield($0.localAddress?.port ?? 0) }
        do {
            try await withRunningApplication(app, ports: ports) { port in
                try await body(Harness(baseURL: "http://127.0.0.1:\(port)", redisServer: redisServer, redis: redis,
                                       upstream: upstream, upstreamURL: upstreamURL, dependencies: other, http: http))
            }
        } catch {
            await other.shutdown()
            throw error
        }
        await other.shutdown()
    }

    /// The stored messages of a session, oldest first.
    func history(_ user: String, _ session: String) async throws -> [[String: Any]] {
        try await get("/chat/history?user_id=\(user)&session_id=\(session)").json["messages"] as? [[String: Any]] ?? []
    }

    func keys(_ pattern: String = "*") async throws -> [String] {
        try await redis.send(RedisCommand("KEYS", pattern)).check().array?.compactMap(\.string).sorted() ?? []
    }
}

/// Deadlines for a fault test: `short` for the one the fault is about, generous ones otherwise,
/// so a loaded machine never turns a slow first token into the wrong fault.
func faultDeadlines(_ code: String, short: Double) -> @Sendable (inout Settings) -> Void {
    { settings in
        settings.firstTokenTimeout = code == "upstream_timeout_first_token" ? short : 30
        settings.idleTimeout = code == "upstream_timeout_idle" ? short : 30
    }
}

/// Every way the test upstream can fail, as a message directive, with the error code the
/// client must get and the stored reply must carry.
let modelFaults: [(message: String, code: String)] = [
    ("[[fault=http500]]", "upstream_http_500"), ("[[fault=http429]]", "upstream_http_429"),
    ("[[fault=http401]]", "upstream_http_401"), ("[[fault=error-event]] a b c d", "upstream_stream_error"),
    ("[[fault=cut]] a b c d", "upstream_interrupted"), ("[[fault=hang-first]]", "upstream_timeout_first_token"),
    ("[[fault=hang-mid]] a b c d", "upstream_timeout_idle"),
]

/// Starts Redis, the test upstream and Confab (with `configure` applied to its settings),
/// runs `body`, and stops them all.
func withConfab(configure: @Sendable (inout Settings) -> Void = { _ in },
                upstream options: TestUpstream.Options = .init(), appendOnlyRedis: Bool = false,
                _ body: @Sendable (Harness) async throws -> Void) async throws {
    let redisServer = try await RedisServer(appendOnly: appendOnlyRedis)
    defer { redisServer.stop() }
    try await UpstreamServer.run(options: options) { upstreamURL, upstream in
        var settings = Settings()
        settings.host = "127.0.0.1"
        settings.port = 0
        settings.redisURL = redisServer.url
        settings.openAIBaseURL = upstreamURL
        settings.staticDir = Harness.packageRoot.appendingPathComponent("static").path
        // Debug builds on a loaded 2-core machine: only the tests of the Redis deadline shorten it.
        settings.redisCommandTimeout = 20
        settings.identity.bcryptCost = 4
        // Shared by a second instance, as a deployment's would be.
        settings.identity.jwtSecret = "test-secret-test-secret-test-secret-0123"
        configure(&settings)
        var logger = Logger(label: "confab-test")
        logger.logLevel = .critical
        let dependencies = try await ConfabDependencies.live(settings: settings, logger: logger)
        let (ports, sink) = AsyncStream<Int>.makeStream()
        let app = buildApplication(dependencies, logger: logger) { sink.yield($0.localAddress?.port ?? 0) }
        // Tests run hundreds of streams at once; AsyncHTTPClient would queue all but 8.
        var clientConfiguration = HTTPClient.Configuration()
        clientConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = 1000
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
        let redis = redisServer.client()
        do {
            try await withRunningApplication(app, ports: ports) { port in
                try await body(Harness(baseURL: "http://127.0.0.1:\(port)", redisServer: redisServer, redis: redis, upstream: upstream,
                                       upstreamURL: upstreamURL, dependencies: dependencies, http: http))
            }
        } catch {
            try? await http.shutdown()
            await redis.shutdown()
            await dependencies.shutdown()
            throw error
        }
        try await http.shutdown()
        await redis.shutdown()
        await dependencies.shutdown()
    }
}

extension Harness {
    /// The commands clients sent Redis while `body` ran (not those scripts ran), and every line
    /// MONITOR logged, once `scripts` EVALSHAs have been seen.
    func redisCommands(scripts: Int, during body: () async throws -> Void) async throws -> (clients: [Substring], all: [Substring]) {
        guard let redisCLI = ["/usr/bin/redis-cli", "/usr/local/bin/redis-cli"].first(where: FileManager.default.isExecutableFile) else {
            Issue.record("redis-cli is missing: apt-get install -y redis-tools")
            return ([], [])
        }
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("monitor-\(UUID().uuidString).log").path
        let monitor = try ChildProcess(redisCLI, ["-p", "\(redisServer.port)", "monitor"], logPath: log)
        func logged() -> [Substring] { ((try? String(contentsOfFile: log, encoding: .utf8)) ?? "").split(separator: "\n") }
        // MONITOR answers OK once it listens; the reply's script is the last thing logged.
        for _ in 0..<500 where !logged().contains("OK") { try await Task.sleep(for: .milliseconds(10)) }
        try await body()
        for _ in 0..<500 where logged().filter({ $0.contains("\"EVALSHA\"") }).count < scripts { try await Task.sleep(for: .milliseconds(10)) }
        try await Task.sleep(for: .milliseconds(100))  // anything after the reply would show up here
        await monitor.stop()
        let lines = logged()
        // Commands a script runs show as "[0 lua]"; the client's own commands are its round trips.
        return (lines.filter { $0.contains("\"") && !$0.contains("lua]") }, lines)
    }

    /// A registered user: its id, first API key and access token.
    struct Registered {
        var id: String
        var key: String
        var token: String
        var auth: [String: String] { ["Authorization": "Bearer \(key)"] }
    }

    func register(_ username: String) async throws -> Registered {
        let reply = try await post("/api/v1/auth/register", ["username": username, "password": "pass-word-1"])
        #expect(reply.status == 201, "register: \(reply.body)")
        let user = try #require(reply.json["user"] as? [String: Any])
        let key = try #require(reply.json["api_key"] as? [String: Any])
        return Registered(id: try #require(user["id"] as? String), key: try #require(key["key"] as? String),
                          token: try #require(reply.json["access_token"] as? String))
    }

    /// A JSON request with headers (`request` with a dictionary body).
    func send(_ method: HTTPMethod, _ path: String, _ json: [String: Any]? = nil, headers: [String: String]) async throws -> Reply {
        try await request(method, path, body: json.map { String(decoding: try! JSONSerialization.data(withJSONObject: $0), as: UTF8.self) },
                          headers: headers)
    }
}
