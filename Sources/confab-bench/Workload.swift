import Foundation
import NIOCore
import NIOHTTP1

/// What the virtual users talk to: Confab, or the test upstream straight (the floor).
struct Target: Sendable {
    var name: String
    var client: StreamingClient
    /// Gets a virtual user ready (Confab: its own session); returns what `turn` needs.
    var prepare: @Sendable (_ user: String) async throws -> String
    var turn: @Sendable (_ user: String, _ prepared: String, _ number: Int) -> StreamingClient.Request

    /// `directives` go before each message: the test upstream reads `[[tokens=N]]`, `[[delay=MS]]`,
    /// `[[tools=parallel]]`; `role` picks the persona (one with tools for a tool workload).
    static func confab(_ client: StreamingClient, directives: String = "", role: String? = nil) -> Target {
        let prefix = (directives.isEmpty ? "" : directives + " ").addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? ""
        let persona = role.map { "&role=\($0)" } ?? ""
        return Target(name: "confab", client: client, prepare: { user in
            let reply = try await client.send(.init(method: .POST, uri: "/chat/start?user_id=\(user)", collect: true))
            let json = try JSONSerialization.jsonObject(with: Data(reply.body)) as? [String: Any]
            guard reply.ok, let session = json?["session_id"] as? String else {
                throw BenchError("POST /chat/start answered \(reply.status): \(String(decoding: reply.body, as: UTF8.self))")
            }
            return session
        }, turn: { user, session, number in
            .init(method: .GET, uri: "/chat/stream?user_id=\(user)&session_id=\(session)&message=\(prefix)hello%20\(number)\(persona)",
                  textMarker: Array(#"data: {"content""#.utf8))
        })
    }

    static func floor(_ client: StreamingClient, directives: String = "") -> Target {
        Target(name: "floor", client: client, prepare: { _ in "" }, turn: { user, _, number in
            let message = (directives.isEmpty ? "" : directives + " ") + "hello \(number) from \(user)"
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
        var sessions: [String]
        var count: Int { names.count }
    }

    /// Makes the users' sessions, at most 64 at a time, before any clock starts.
    static func prepare(_ target: Target, users: Int, tag: String) async throws -> Users {
        let names = (0..<users).map { "bench-\(tag)-\(target.name)-\($0)" }
        var prepared = [String](repeating: "", count: users)
        try await withThrowingTaskGroup(of: (Int, String).self) { group in
            for (index, name) in names.enumerated() {
                if index >= 64, let (done, value) = try await group.next() { prepared[done] = value }
                group.addTask { (index, try await target.prepare(name)) }
            }
            for try await (done, value) in group { prepared[done] = value }
        }
        return Users(names: names, sessions: prepared)
    }

    /// Runs the users for `seconds`: each sends its turns in order, reading each stream to
    /// `[DONE]` before the next.
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
                    while clock.now < deadline {
                        number += 1
                        let request = target.turn(names[index], sessions[index], number)
                        guard let result = try? await target.client.send(request), result.ok, result.sawDone,
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
