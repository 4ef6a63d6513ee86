import ConfabCore
import Foundation
import Testing
import TestSupport

/// Each fault of docs/RELIABILITY.md with Confab under concurrent load (at least 50 streams)
/// against a real Redis: what the clients were told, and what was stored. One fault at a time:
/// each already loads both cores.
@Suite(.serialized) struct FaultsUnderLoadTests {
    static let streams = 50

    /// Starts `count` sessions for users `<prefix>-<n>` and streams one turn on each, all at once.
    func concurrentTurns(_ h: Harness, prefix: String, count: Int = streams, message: String,
                         leaveAfter: Int? = nil) async throws -> [(user: String, session: String, seen: Harness.Stream)] {
        var sessions: [(String, String)] = []
        for n in 0..<count { sessions.append(("\(prefix)-\(n)", try await h.startSession("\(prefix)-\(n)"))) }
        return try await withThrowingTaskGroup(of: (String, String, Harness.Stream).self) { group in
            for (user, session) in sessions {
                group.addTask {
                    (user, session, try await h.stream(h.streamPath(user: user, session: session, message: message), leaveAfter: leaveAfter))
                }
            }
            return try await group.reduce(into: []) { $0.append(($1.0, $1.1, $1.2)) }
        }
    }

    /// Waits (up to 10 s) until all `streams` turns stream, as `/metrics` counts them.
    func allStreaming(_ h: Harness) async throws -> Bool {
        for _ in 0..<1000 {
            if try await activeStreams(h) == Double(Self.streams) { return true }
            try await Task.sleep(for: .milliseconds(10))
        }
        return false
    }

    func activeStreams(_ h: Harness) async throws -> Double? {
        MetricsTests.samples(try await h.get("/metrics").body)["confab_active_streams"]
    }

    @Test(arguments: modelFaults)
    func modelFailuresUnderLoad(message: String, code: String) async throws {
        let deadline = 1.5
        try await withConfab(configure: faultDeadlines(code, short: deadline)) { h in
            let started = ContinuousClock.now
            let turns = try await concurrentTurns(h, prefix: "f", message: message)
            let took = ContinuousClock.now - started
            for (user, session, seen) in turns {
                #expect(seen.data.last == "[DONE]")
                let error = seen.last["error"] as? [String: Any]
                #expect(error?["code"] as? String == code, "\(seen.data.suffix(2))")
                if code == "upstream_http_429" { #expect(error?["retry_after"] as? Int == 7, "Retry-After is passed on") }
                let stored = try await h.history(user, session).filter { $0["role"] as? String == "assistant" }
                #expect(stored.count == 1)
                #expect(stored.first?["status"] as? String == "error")
                #expect((stored.first?["error"] as? [String: Any])?["code"] as? String == code)
                #expect(stored.first?["content"] as? String == seen.text, "the partial reply is what the client saw")
            }
            // All 50 were told within the deadline (plus the time to start 50 sessions and streams).
            #expect(took < .seconds(deadline + 5), "took \(took)")
            #expect(await h.upstream.stats.becomesIdle(), "no upstream request left open")
            #expect(try await activeStreams(h) == 0, "no stream left running")
        }
    }

    @Test func hundredsOfClientsLeaving() async throws {
        try await withConfab { h in
            let turns = try await concurrentTurns(h, prefix: "gone", count: 200, message: "[[tokens=2000]] [[delay=5]] go", leaveAfter: 3)
            // The test upstream counts open requests: each must be cancelled once its client left.
            #expect(await h.upstream.stats.becomesIdle(within: .seconds(1)), "\(h.upstream.stats.active) upstream requests still open 1 s after")
            for (user, session, seen) in turns {
                var stored: [[String: Any]] = []
                for _ in 0..<100 where stored.isEmpty {
                    stored = try await h.history(user, session).filter { $0["role"] as? String == "assistant" }
                    if stored.isEmpty { try await Task.sleep(for: .milliseconds(20)) }
                }
                #expect(stored.count == 1)
                #expect(stored.first?["status"] as? String == "partial")
                #expect(stored.first?["reason"] as? String == "client_disconnected")
                #expect((stored.first?["content"] as? String ?? "").hasPrefix(seen.text), "the partial holds what the client saw")
            }
            #expect(try await activeStreams(h) == 0)
        }
    }

    @Test func redisKilledAndRestartedMidLoad() async throws {
        try await withConfab(appendOnlyRedis: true) { h in
            let load = Task { try await concurrentTurns(h, prefix: "r", message: "[[tokens=200]] [[delay=10]] go") }
            // Every turn is in flight (its user message stored, its reply streaming) before Redis dies.
            #expect(try await allStreaming(h), "all turns streaming when Redis is killed")
            h.redisServer.kill()
            #expect(try await h.get("/ready").status == 503, "/ready reflects the outage")
            try await Task.sleep(for: .milliseconds(300))
            try await h.redisServer.start()
            let back = ContinuousClock.now
            // A new turn is served soon after Redis is back, with no restart of Confab.
            var served: Duration?
            while served == nil, ContinuousClock.now - back < .seconds(15) {
                if let session = try? await h.startSession("after"),
                   (try? await h.stream(h.streamPath(user: "after", session: session, message: "hello")))?.last["status"] as? String == "complete" {
                    served = ContinuousClock.now - back
                }
            }
            // By itself, while the 50 replies still stream and store: within a few seconds.
            #expect(served != nil && served! < .seconds(10), "new turns served \(String(describing: served)) after Redis came back")
            #expect(try await h.get("/ready").status == 200)

            var complete = 0
            for (user, session, seen) in try await load.value {
                #expect(seen.status == 200, "a turn in flight keeps its stream: \(seen.data)")
                #expect(seen.data.last == "[DONE]", "every client is told how its turn ended: \(seen.data.suffix(2))")
                guard seen.last["status"] as? String == "complete" else {
                    #expect(seen.last["error"] != nil, "a turn that did not complete says why: \(seen.data.suffix(2))")
                    continue
                }
                complete += 1
                let stored = try await h.history(user, session).last
                #expect(stored?["status"] as? String == "complete", "a reply reported complete is in Redis")
                #expect(stored?["content"] as? String == seen.text)
            }
            #expect(complete > 0, "replies stored after Redis came back complete")
        }
    }

    /// Redis stops answering (SIGSTOP: a stalled server or a network partition; connections stay
    /// open) while 50 replies stream. Every request is answered within the command deadline, every
    /// client is told how its turn ended, what is reported complete is stored exactly once, and
    /// the service recovers by itself when Redis goes on.
    @Test func redisStalledMidLoad() async throws {
        let deadline = 1.0
        try await withConfab(configure: { $0.redisCommandTimeout = deadline }) { h in
            let load = Task { try await concurrentTurns(h, prefix: "s", message: "[[tokens=60]] [[delay=10]] go") }
            #expect(try await allStreaming(h), "all turns streaming when Redis stalls")
            let session = try await h.startSession("stall")
            h.redisServer.pause()
            // The replies end (0.6 s) during the stall: their stores time out and are retried.
            let limit = Duration.seconds(deadline + 1.5)
            do {
                let asked = ContinuousClock.now
                let ready = try await h.get("/ready")
                #expect(ready.status == 503 && ContinuousClock.now - asked < limit, "/ready: \(ready.status) after \(ContinuousClock.now - asked)")
                let turnAsked = ContinuousClock.now
                let turn = try await h.request(.GET, h.streamPath(user: "stall", session: session, message: "refused"))
                #expect(turn.status == 503 && turn.errorCode == "store_unavailable", "\(turn.status) \(turn.body)")
                #expect(ContinuousClock.now - turnAsked < limit, "a turn is refused within the deadline")
                let start = try await h.post("/chat/start?user_id=stall")
                #expect(start.status == 503, "\(start.body)")
                #expect(try await h.get("/health").status == 200)
            }
            h.redisServer.resume()
            let back = ContinuousClock.now
            var served: Duration?
            while served == nil, ContinuousClock.now - back < .seconds(10) {
                if (try? await h.stream(h.streamPath(user: "stall", session: session, message: "hello")))?.last["status"] as? String == "complete" {
                    served = ContinuousClock.now - back
                } else {
                    try await Task.sleep(for: .milliseconds(50))
                }
            }
            #expect(served != nil, "served again after Redis went on")
            #expect(try await h.get("/ready").status == 200)
            // A refused begin may still have run once Redis went on; it is undone within moments.
            var refusedLeft = -1
            for _ in 0..<200 where refusedLeft != 0 {
                refusedLeft = try await h.history("stall", session).count { $0["content"] as? String == "refused" }
                if refusedLeft != 0 { try await Task.sleep(for: .milliseconds(50)) }
            }
            #expect(refusedLeft == 0, "no refused turn leaves its message behind")
            #expect(try await h.keys("*{u:anon:stall}*lock*").isEmpty, "nor a lock")

            var complete = 0
            for (user, session, seen) in try await load.value {
                #expect(seen.status == 200)
                #expect(seen.data.last == "[DONE]", "every client is told how its turn ended: \(seen.data.suffix(2))")
                let replies = try await h.history(user, session).filter { $0["role"] as? String == "assistant" }
                #expect(replies.count <= 1, "a reply is never stored twice")
                guard seen.last["status"] as? String == "complete", seen.last["error"] == nil else {
                    #expect(seen.last["error"] != nil, "a turn that did not complete says why: \(seen.data.suffix(2))")
                    continue
                }
                complete += 1
                #expect(replies.count == 1, "a reply reported complete is in Redis")
                #expect(replies.first?["content"] as? String == seen.text)
            }
            #expect(complete > 0, "replies whose store was retried after the stall are complete")
        }
    }

    @Test func twoInstancesNeverStreamOneSessionTwice() async throws {
        try await withConfab { h in
            var sessions: [(String, String)] = []
            for n in 0..<Self.streams { sessions.append(("two-\(n)", try await h.startSession("two-\(n)"))) }
            try await h.withSecondInstance { other in
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for (user, session) in sessions {
                        group.addTask {
                            async let here = h.stream(h.streamPath(user: user, session: session, message: "[[tokens=50]] [[delay=20]] here"))
                            async let there = other.stream(other.streamPath(user: user, session: session, message: "[[tokens=50]] [[delay=20]] there"))
                            let statuses = [try await here.status, try await there.status].sorted()
                            #expect(statuses == [200, 409], "exactly one streams, the other is refused")
                            let history = try await h.history(user, session)
                            #expect(history.map { $0["role"] as? String } == ["user", "assistant"], "no interleaved or duplicated messages")
                            let asked = (history.first?["content"] as? String ?? "").split(separator: " ").last.map(String.init)
                            #expect((history.last?["content"] as? String ?? "").hasPrefix("Echo: \(asked ?? "?")"), "the reply answers its own message")
                        }
                    }
                    try await group.waitForAll()
                }
            }
        }
    }
}
