import Foundation
import Testing
import TestSupport

/// `GET /metrics`: the counters move as turns end in each way.
@Suite struct MetricsTests {
    /// The samples of a Prometheus text page, by name with labels as written (`a_total{x="y"}`).
    static func samples(_ page: String) -> [String: Double] {
        var result: [String: Double] = [:]
        for line in page.split(separator: "\n") where !line.hasPrefix("#") {
            guard let space = line.lastIndex(of: " "), let value = Double(line[line.index(after: space)...]) else { continue }
            result[String(line[..<space])] = value
        }
        return result
    }

    /// The metrics, once `ready` holds of them (turns are counted just after their reply is stored).
    func scrape(_ h: Harness, when ready: ([String: Double]) -> Bool = { _ in true }) async throws -> [String: Double] {
        for _ in 0..<500 {
            let page = try await h.get("/metrics")
            #expect(page.status == 200)
            #expect(page.headers["content-type"]?.hasPrefix("text/plain") == true)
            let samples = Self.samples(page.body)
            if ready(samples) { return samples }
            try await Task.sleep(for: .milliseconds(10))
        }
        Issue.record("the metrics never reached the expected state")
        return [:]
    }

    @Test func countersFollowEachEnding() async throws {
        try await withConfab(configure: { $0.firstTokenTimeout = 2 }) { h in
            let session = try await h.startSession("mia")
            func turn(_ message: String, leaveAfter: Int? = nil) async throws -> Harness.Stream {
                try await h.stream(h.streamPath(user: "mia", session: session, message: message), leaveAfter: leaveAfter)
            }
            var relayed = 0
            for message in ["one", "two"] { relayed += try await turn(message).objects.count { $0["content"] != nil } }
            _ = try await turn("[[fault=http500]]")
            _ = try await turn("[[fault=hang-first]]")
            let left = try await turn("[[tokens=400]] [[delay=10]] go", leaveAfter: 3)
            #expect(await h.upstream.stats.becomesIdle())

            var metrics = try await scrape(h) { $0["confab_turn_duration_seconds_count"] == 5 }
            #expect(metrics[#"confab_turns_total{ending="complete"}"#] == 2)
            #expect(metrics[#"confab_turns_total{ending="error"}"#] == 2)
            #expect(metrics[#"confab_turns_total{ending="partial"}"#] == 1)
            #expect(metrics[#"confab_turns_total{ending="shutdown"}"#] == 0)
            #expect(metrics[#"confab_upstream_errors_total{kind="upstream_http_500"}"#] == 1)
            #expect(metrics[#"confab_upstream_errors_total{kind="upstream_timeout_first_token"}"#] == 1)
            #expect(metrics["confab_turn_duration_seconds_count"] == 5)
            #expect(metrics["confab_first_token_seconds_count"] == 3, "the two complete turns and the partial one had text")
            #expect(metrics["confab_active_streams"] == 0)
            let tokens = try #require(metrics["confab_tokens_relayed_total"])
            #expect(tokens >= Double(relayed + left.objects.count { $0["content"] != nil }))
            #expect(tokens < Double(relayed + 400))
            #expect((metrics["confab_redis_round_trips_total"] ?? 0) >= 11, "a session and 5 turns of 2 round trips")

            // A turn in flight is an active stream; a shutdown ends it as `shutdown`.
            let streaming = Task { try await turn("[[tokens=400]] [[delay=10]] long") }
            try await h.waitUntilStreaming("mia", session)
            #expect(try await scrape(h)["confab_active_streams"] == 1)
            await h.dependencies.turns.activeTurns.shutdown()
            _ = try await streaming.value
            metrics = try await scrape(h)
            #expect(metrics[#"confab_turns_total{ending="shutdown"}"#] == 1)
            #expect(metrics["confab_active_streams"] == 0)
        }
    }

    @Test func redisErrorsAndReconnectsAreCounted() async throws {
        try await withConfab { h in
            // Once round the pool, so every connection is open before Redis goes away.
            let poolSize = h.dependencies.settings.redisPoolSize
            for _ in 0..<poolSize { #expect(try await h.get("/ready").status == 200) }
            h.redisServer.kill()
            #expect(try await h.get("/ready").status == 503)
            try await h.redisServer.start()
            for _ in 0..<poolSize { #expect(try await h.get("/ready").status == 200) }
            let metrics = try await scrape(h)
            #expect((metrics["confab_redis_errors_total"] ?? 0) >= 1)
            #expect((metrics["confab_redis_reconnects_total"] ?? 0) >= 1)
        }
    }
}
