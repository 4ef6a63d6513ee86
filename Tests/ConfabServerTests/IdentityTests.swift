import Foundation
import NIOHTTP1
import RedisClient
import Testing
import TestSupport

/// Identity where it meets a turn: what an API key costs, agents in turns, limits on streams
/// and tokens, and revocation seen by every instance. (system-tests/test_identity.py has the
/// isolation matrix and the attacks, against the built server.)
@Suite struct IdentityTests {
    @Test func aTurnWithAnAPIKeyCostsOneMoreRoundTrip() async throws {
        try await withConfab { h in
            let alice = try await h.register("rt-alice")
            let start = try await h.send(.POST, "/chat/start", headers: alice.auth)
            let session = try #require(start.json["session_id"] as? String)
            _ = try await h.stream("/chat/stream?session_id=\(session)&message=warm", headers: alice.auth)
            let (fromClients, _) = try await h.redisCommands(scripts: 3) {
                let turn = try await h.stream("/chat/stream?session_id=\(session)&message=count", headers: alice.auth)
                #expect(turn.last["status"] as? String == "complete")
                #expect(turn.headers["x-ratelimit-limit-requests"] == "600")
            }
            #expect(fromClients.count == 3, "the key's check, the turn's begin and its store: \(fromClients)")
            #expect(fromClients.allSatisfy { $0.contains("\"EVALSHA\"") })
        }
    }

    @Test func anAgentsTurnPlaysItsTemplateWithItsOwnModelSettings() async throws {
        try await withConfab { h in
            let bob = try await h.register("agent-bob")
            let made = try await h.send(.POST, "/api/v1/agents", ["name": "Mr Numbers", "template_id": "teacher",
                                                                  "persona": "You teach arithmetic with apples.",
                                                                  "model": "apple-model", "temperature": 0.25], headers: bob.auth)
            #expect(made.status == 201, "\(made.body)")
            let agent = try #require(made.json["id"] as? String)
            let start = try await h.send(.POST, "/chat/start?agent_id=\(agent)", headers: bob.auth)
            #expect(start.json["persona"] as? String == agent)
            #expect((start.json["welcome_message"] as? String)?.contains("Mr Numbers") == true)
            let session = try #require(start.json["session_id"] as? String)
            // No agent named: the session's own.
            let turn = try await h.stream("/chat/stream?session_id=\(session)&message=two%20plus%20two", headers: bob.auth)
            #expect(turn.last["status"] as? String == "complete")
            let sent = try #require(try JSONSerialization.jsonObject(with: h.upstream.stats.lastRequest) as? [String: Any])
            #expect(sent["model"] as? String == "apple-model")
            #expect(sent["temperature"] as? Double == 0.25)
            let system = (sent["messages"] as? [[String: Any]])?.first
            #expect(system?["role"] as? String == "system" && system?["content"] as? String == "You teach arithmetic with apples.")
            let stored = try await h.send(.GET, "/chat/history?session_id=\(session)", headers: bob.auth).json["messages"] as? [[String: Any]]
            #expect(stored?.last?["persona"] as? String == agent)
            #expect(stored?.last?["model"] as? String == "apple-model")

            // Another user's agent is unknown to them, and their refused turn writes nothing.
            let eve = try await h.register("agent-eve")
            let own = try #require(try await h.send(.POST, "/chat/start", headers: eve.auth).json["session_id"] as? String)
            let before = try await h.keys()
            let stolen = try await h.stream("/chat/stream?session_id=\(own)&message=hi&agent_id=\(agent)", headers: eve.auth)
            #expect(stolen.status == 404 && stolen.data.joined().contains("agent_not_found"))
            #expect(try await h.send(.GET, "/api/v1/agents/\(agent)", headers: eve.auth).status == 404)
            #expect(try await h.keys() == before)
        }
    }

    @Test func findAgentsSearchesTheUsersOwnAgentsAndTheTemplates() async throws {
        try await withConfab { h in
            let (ivy, jon) = (try await h.register("find-ivy"), try await h.register("find-jon"))
            let made = try await h.send(.POST, "/api/v1/agents", ["name": "Quantum Baker", "template_id": "creative-partner"], headers: ivy.auth)
            let agent = try #require(made.json["id"] as? String)
            func found(_ user: Harness.Registered) async throws -> [String] {
                let session = try #require(try await h.send(.POST, "/chat/start?role=scout", headers: user.auth).json["session_id"] as? String)
                let message = #"[[tool=find_agents]] {"query":"quantum baker creative"}"#.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!
                let turn = try await h.stream("/chat/stream?session_id=\(session)&message=\(message)", headers: user.auth)
                let result = turn.objects.first { $0["type"] as? String == "tool_result" }
                let agents = ((result?["output"] as? [String: Any])?["agents"] as? [[String: Any]]) ?? []
                return agents.compactMap { $0["id"] as? String }
            }
            let ivys = try await found(ivy)
            #expect(ivys.first == agent, "the user's own agent ranks first: \(ivys)")
            #expect(ivys.contains("creative-partner"), "templates are searched too")
            let jons = try await found(jon)
            #expect(!jons.contains(agent) && jons.contains("creative-partner"), "another user's agent is never found")
        }
    }

    @Test func streamsAtOnceAreLimitedPerKey() async throws {
        try await withConfab { h in
            let carol = try await h.register("streams-carol")
            let made = try await h.send(.POST, "/api/v1/keys", ["name": "one at a time", "limits": ["concurrent_streams": 1]],
                                        headers: ["Authorization": "Bearer \(carol.token)"])
            #expect(made.status == 201)
            let key = ["Authorization": "Bearer \(try #require(made.json["key"] as? String))"]
            let first = try #require(try await h.send(.POST, "/chat/start", headers: key).json["session_id"] as? String)
            let second = try #require(try await h.send(.POST, "/chat/start", headers: key).json["session_id"] as? String)
            async let slow = h.stream("/chat/stream?session_id=\(first)&message=%5B%5Btokens%3D60%5D%5D%20%5B%5Bdelay%3D20%5D%5D%20go", headers: key)
            try await h.waitUntilStreaming(storeID: carol.id, first)
            let refused = try await h.stream("/chat/stream?session_id=\(second)&message=also", headers: key)
            #expect(refused.status == 429 && refused.data.joined().contains("at most 1 streams at once"))
            #expect(refused.headers["retry-after"] != nil && refused.headers["x-ratelimit-limit-requests"] == "600")
            #expect(try await h.history(key, second).isEmpty, "the refused turn wrote nothing")
            // The user's own limit (16) is not the key's: the access token still streams.
            let other = try await h.stream("/chat/stream?session_id=\(second)&message=token", headers: ["Authorization": "Bearer \(carol.token)"])
            #expect(other.last["status"] as? String == "complete")
            #expect(try await slow.last["status"] as? String == "complete")
            // The slot is freed when the turn is stored.
            let again = try await h.stream("/chat/stream?session_id=\(second)&message=again", headers: key)
            #expect(again.last["status"] as? String == "complete")
        }
    }

    @Test func tokensPerMinuteAreLimitedPerUser() async throws {
        try await withConfab(configure: { $0.identity.userLimits.tokensPerMinute = 20 }) { h in
            let dan = try await h.register("tokens-dan")
            let session = try #require(try await h.send(.POST, "/chat/start", headers: dan.auth).json["session_id"] as? String)
            let turn = try await h.stream("/chat/stream?session_id=\(session)&message=%5B%5Btokens%3D30%5D%5D%20spend", headers: dan.auth)
            #expect(turn.last["status"] as? String == "complete")
            let refused = try await h.stream("/chat/stream?session_id=\(session)&message=more", headers: dan.auth)
            #expect(refused.status == 429 && refused.data.joined().contains("rate_limit_exceeded"))
            #expect(refused.headers["x-ratelimit-limit-tokens"] == "20" && refused.headers["x-ratelimit-remaining-tokens"] == "0")
            #expect(Int(refused.headers["retry-after"] ?? "") ?? 0 >= 1)
            // Only new turns wait for the meter: the history still reads, and says where it stands.
            let history = try await h.send(.GET, "/chat/history?session_id=\(session)", headers: dan.auth)
            #expect(history.status == 200 && history.headers["x-ratelimit-remaining-tokens"] == "0")
            // Another user is not affected.
            let erin = try await h.register("tokens-erin")
            let own = try #require(try await h.send(.POST, "/chat/start", headers: erin.auth).json["session_id"] as? String)
            #expect(try await h.stream("/chat/stream?session_id=\(own)&message=hi", headers: erin.auth).last["status"] as? String == "complete")
        }
    }

    /// A Redis fault never looks like bad credentials (a client would drop a good key) nor lets
    /// a request through unchecked: it is a 503, and the key works again once Redis is back.
    @Test func aKeyCheckedWhileRedisIsAwayIsA503() async throws {
        try await withConfab(configure: { $0.redisCommandTimeout = 0.5 }) { h in
            let gil = try await h.register("redis-gil")
            h.redisServer.pause()
            let started = ContinuousClock.now
            let refused = try await h.send(.GET, "/chat/sessions", headers: gil.auth)
            h.redisServer.resume()
            #expect(refused.status == 503 && refused.errorCode == "store_unavailable")
            #expect(ContinuousClock.now - started < .seconds(5))
            var status = 0
            for _ in 0..<100 where status != 200 {
                status = try await h.send(.GET, "/chat/sessions", headers: gil.auth).status
                if status != 200 { try await Task.sleep(for: .milliseconds(100)) }
            }
            #expect(status == 200)
        }
    }

    /// `/api/v1/agents/templates` is a route of its own, not an agent id: other methods are a 405
    /// that names GET only, whatever order the routes were registered in.
    @Test func aLiteralPathIsNotTakenForAParameter() async throws {
        try await withConfab { h in
            for method in [HTTPMethod.PATCH, .DELETE, .PUT, .POST] {
                let reply = try await h.request(method, "/api/v1/agents/templates")
                #expect(reply.status == 405 && reply.headers["allow"] == "GET", "\(method): \(reply.status) \(reply.headers)")
            }
        }
    }

    @Test func aRevokedKeyFailsOnEveryInstanceAtItsNextRequest() async throws {
        try await withConfab { h in
            let fay = try await h.register("revoke-fay")
            try await h.withSecondInstance { other in
                #expect(try await other.send(.GET, "/api/v1/me", headers: fay.auth).status == 200)
                // An access token from one instance works on the other (a shared CONFAB_JWT_SECRET).
                #expect(try await other.send(.GET, "/chat/sessions", headers: ["Authorization": "Bearer \(fay.token)"]).status == 200)
                let keys = try await h.send(.GET, "/api/v1/keys", headers: fay.auth).json["keys"] as? [[String: Any]]
                let id = try #require(keys?.first?["id"] as? String)
                #expect(try await h.send(.DELETE, "/api/v1/keys/\(id)", headers: ["Authorization": "Bearer \(fay.token)"]).status == 200)
                let refused = try await other.send(.GET, "/api/v1/me", headers: fay.auth)
                #expect(refused.status == 401 && refused.headers["www-authenticate"]?.hasPrefix("Bearer") == true)
            }
        }
    }
}

extension Harness {
    func history(_ auth: [String: String], _ session: String) async throws -> [[String: Any]] {
        try await send(.GET, "/chat/history?session_id=\(session)", headers: auth).json["messages"] as? [[String: Any]] ?? []
    }
}
