import Foundation
import RedisClient
import Testing
import TestSupport

/// What lands in Redis: key names, TTLs, the cap, and the two round trips of a turn.
@Suite struct StorageTests {
    @Test func keysShareTheUsersHashTagAndSlideTheirTTL() async throws {
        try await withConfab { h in
            let session = try await h.startSession("kim")
            _ = try await h.stream(h.streamPath(user: "kim", session: session, message: "hi"))
            let keys = try await h.keys()
            #expect(keys == ["confab:{u:anon:kim}:session:\(session)", "confab:{u:anon:kim}:session:\(session):messages", "confab:{u:anon:kim}:sessions",
                             "confab:{u:anon:kim}:usage"])
            for key in keys {
                let ttl = try await h.redis.send(RedisCommand("TTL", key)).int ?? -1
                #expect(ttl > 7 * 24 * 3600 - 60 && ttl <= 7 * 24 * 3600, "\(key) TTL \(ttl)")
            }
            #expect(try await h.redis.send(RedisCommand("TYPE", keys[1])).string == "list")
            // Sliding: a write refreshes the TTL.
            _ = try await h.redis.send(RedisCommand("EXPIRE", keys[1], 100))
            _ = try await h.stream(h.streamPath(user: "kim", session: session, message: "again"))
            #expect(try await h.redis.send(RedisCommand("TTL", keys[1])).int ?? 0 > 100)
            // The list is newest first.
            let newest = try await h.redis.send(RedisCommand("LINDEX", keys[1], 0)).string ?? ""
            #expect(newest.contains("Echo: again"))
        }
    }

    @Test func historyIsCappedAndThePromptWindowed() async throws {
        try await withConfab(configure: { $0.historyCap = 3; $0.historyWindow = 2 }) { h in
            let session = try await h.startSession("cap")
            for word in ["one", "two", "three"] {
                _ = try await h.stream(h.streamPath(user: "cap", session: session, message: word))
            }
            let history = try await h.get("/chat/history?user_id=cap&session_id=\(session)").json
            #expect((history["messages"] as? [[String: Any]])?.map { $0["content"] as? String } == ["Echo: two", "three", "Echo: three"])
            let sent = try JSONSerialization.jsonObject(with: h.upstream.stats.lastRequest) as! [String: Any]
            let contents = (sent["messages"] as! [[String: String]]).map { $0["content"]! }
            #expect(Array(contents.dropFirst()) == ["two", "Echo: two", "three"], "system prompt, a window of 2, the message")
            let listed = try await h.get("/chat/sessions?user_id=cap").json["sessions"] as? [[String: Any]]
            #expect(listed?.first?["message_count"] as? Int == 3)
        }
    }

    @Test func aTurnCostsTwoRoundTrips() async throws {
        try await withConfab { h in
            let session = try await h.startSession("rt")
            // The first turn loads the scripts; from then on each runs by its digest.
            _ = try await h.stream(h.streamPath(user: "rt", session: session, message: "warm up"))
            let (fromClients, lines) = try await h.redisCommands(scripts: 2) {
                let turn = try await h.stream(h.streamPath(user: "rt", session: session, message: "count me"))
                #expect(turn.last["status"] as? String == "complete")
            }
            #expect(fromClients.count == 2, "client commands: \(fromClients)")
            #expect(fromClients.allSatisfy { $0.contains("\"EVALSHA\"") }, "scripts run by digest, not by text")
            #expect(lines.contains { $0.contains("lua]") && $0.contains("\"LPUSH\"") })
        }
    }
}
