import Foundation
import NIOCore
import NIOHTTP1

/// What the virtual users talk to: Confab, or the test upstream straight (the floor).
struct Target: Sendable {
    var name: String
    var client: StreamingClient
    /// Gets a virtual user ready (Confab: its own session, and with `auth` its own account and key).
    var prepare: @Sendable (_ user: String) async throws -> Prepared
    var turn: @Sendable (_ user: String, _ prepared: Prepared, _ number: Int) -> StreamingClient.Request

    /// A virtual user's session, and the API key it sends (nil: anonymous, `user_id` in the query).
    struct Prepared: Sendable {
        var session = ""
        var key: String?
    }

    /// `directives` go before each message: the test upstream reads `[[tokens=N]]`, `[[delay=MS]]`,
    /// `[[tools=parallel]]`; `role` picks the persona (one with tools for a tool workload).
    /// With `auth` each virtual user registers, makes an API key with limits of its own (so both
    /// the user's and the key's meters are checked on each turn) and sends it on every request.
    /// `format: "ai-sdk"` asks for the AI SDK's UI message stream; `padding` characters are added
    /// to each message (long histories: the stored window fills up within a few turns).
    static func confab(_ client: StreamingClient, directives: String = "", role: String? = nil, auth: Bool = false,
                       format: String? = nil, padding: Int = 0) -> Target {
        let prefix = (directives.isEmpty ? "" : directives + " ").addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let persona = (role.map { "&role=\($0)" } ?? "") + (format.map { "&format=\($0)" } ?? "")
        let suffix = padding > 0 ? "%20" + String(repeating: "a", count: padding) : ""
        let marker = format == "ai-sdk" ? #"data: {"type":"text-delta""# : #"data: {"content""#
        return Target(name: auth ? "confab-auth" : "confab", client: client, prepare: { user in
            let key = auth ? try await register(user, client) : nil
            let reply = try await client.send(.init(method: .POST, uri: "/chat/start" + (key == nil ? "?user_id=\(user)" : ""),
                                                    bearer: key, collect: true))
            guard reply.ok, let session = json(reply)?["session_id"] as? String else {
                throw BenchError("POST /chat/start answered \(reply.status): \(String(decoding: reply.body, as: UTF8.self))")
            }
            return Prepared(session: session, key: key)
        }, turn: { user, prepared, number in
            let owner = prepared.key == nil ? "user_id=\(user)&" : ""
            return .init(method: .GET, uri: "/chat/stream?\(owner)session_id=\(prepared.session)&message=\(prefix)hello%20\(number)\(suffix)\(persona)",
                         bearer: prepared.key, textMarker: Array(marker.utf8))
        })
    }

    /// OpenAI's door: each virtual user registers and streams `POST /v1/chat/completions` kept in
    /// its own session (`X-Confab-Session-Id`), the client sending only its new message.
    static func openAI(_ client: StreamingClient) -> Target {
        Target(name: "confab-openai", client: client, prepare: { user in
            let key = try await register(user, client)
            return Prepared(session: UUID().uuidString.lowercased(), key: key)
        }, turn: { _, prepared, number in
            let body = #"{"model":"assistant","stream":true,"messages":[{"role":"user","content":"hello \#(number)"}]}"#
            return .init(method: .POST, uri: "/v1/chat/completions", body: Array(body.utf8), bearer: prepared.key,
                         headers: [("X-Confab-Session-Id", prepared.session)],
                         textMarker: Array(#""choices":[{"index":0,"delta":{"content":"#.utf8))
        })
    }

    /// Registers `user` and makes it a key with generous limits of its own; returns the key.
    static func register(_ user: String, _ client: StreamingClient) async throws -> String {
        let body = #"{"username":"\#(user)","password":"bench-pass-1"}"#
        let registered = try await client.send(.init(method: .POST, uri: "/api/v1/auth/register", body: Array(body.utf8), collect: true))
        guard registered.status == 201, let token = json(registered)?["access_token"] as? String else {
            throw BenchError("register answered \(registered.status): \(String(decoding: registered.body, as: UTF8.self))")
        }
        let limits = #"{"name":"bench","limits":{"requests_per_minute":100000,"concurrent_streams":1000}}"#
        let made = try await client.send(.init(method: .POST, uri: "/api/v1/keys", body: Array(limits.utf8), bearer: token, collect: true))
        guard made.status == 201, let key = json(made)?["key"] as? String else {
            throw BenchError("POST /api/v1/keys answered \(made.status): \(String(decoding: made.body, as: UTF8.self))")
        }
        return key
    }

    private static func json(_ result: StreamingClient.Result) -> [String: Any]? {
        try? JSONSerialization.jsonObject(with: Data(result.body)) as? [String: Any]
    }

    static func floor(_ client: StreamingClient, directives: String = "", padding: Int = 0) -> Target {
        Target(name: "floor", client: client, prepare: { _ in Prepared() }, turn: { user, _, number in
            let message = (directives.isEmpty ? "" : directives + " ") + "hello \(number) from \(user)"
                + (padding > 0 ? " " + String(repeating: "a", count: padding) : "")
            let body = #"{"model":"bench","stream":true,"messages":[{"role":"user","content":"\#(message)"}]}"#
            return .init(method: .POST, uri: "/v1/chat/completions", body: Array(body.utf8),
                         textMarker: Array(#""delta":{"content":""#.utf8))
        })
    }
}

/// The samples of one run: every turn's timings, and how long the run took.
struct RunSamples: Sendable {
    var firstText: [Duration] = []
    var total: [Duration] = []
    var errors = 0
    var elapsed: Duration = .zero
    var turns: Int { total.count }
}

/// Runs of the workload.
enum BenchRun {
    /// Virtual users ready to run: their names and what `prepare` gave each (its session).
    struct Users: Sendable {
        var names: [String]
        var sessions: [Target.Prepared]
        var count: Int { names.count }
    }

    /// Makes the users' sessions, at most 64 at a time, before any clock starts.
    static func prepare(_ target: Target, users: Int, tag: String) async throws -> Users {
        let names = (0..<users).map { "bench-\(tag)-\(target.name)-\($0)" }
        var prepared = [Target.Prepared](repeating: .init(), count: users)
        try await withThrowingTaskGroup(of: (Int, Target.Prepared).self) { group in
            for (index, name) in names.enumerated() {
                if index >= 64, let (done, value) = try await group.next() { prepared[done] = value }
                group.addTask { (index, try await target.prepare(name)) }
            }
            for try await (done, value) in group { prepared[done] = value }
        }
        return Users(names: names, sessions: prepared)
    }

    /// Runs the users for `seconds`: each sends its turns in order on the connection it keeps,
    /// reading each stream to `[DONE]` before the next.
    static func run(_ target: Target, _ users: Users, seconds: Double) async -> RunSamples {
        let (names, sessions) = (users.names, users.sessions)
        let clock = ContinuousClock()
        let start = clock.now
        let deadline = start + .milliseconds(Int64(seconds * 1000))
        var samples = RunSamples()
        await withTaskGroup(of: RunSamples.self) { group in
            for index in 0..<users.count {
                group.addTask {
                    var own = RunSamples()
                    var number = 0
                    let connection = KeptConnection(client: target.client)
                    defer { connection.close() }
                    while clock.now < deadline {
                        number += 1
                        let request = target.turn(names[index], sessions[index], number)
                        guard let result = try? await connection.send(request), result.ok, result.sawDone,
                              let first = result.firstText else {
                            own.errors += 1
                            try? await Task.sleep(for: .milliseconds(10))  // a failing target is not a hot loop
                            continue
                        }
                        own.firstText.append(first)
                        own.total.append(result.total)
                    }
                    return own
                }
            }
            for await own in group {
                samples.firstText += own.firstText
                samples.total += own.total
                samples.errors += own.errors
            }
        }
        samples.elapsed = clock.now - start
        return samples
    }
}

struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
