import Foundation
import Testing
import TestSupport

/// The HTTP API as a user drives it: start, stream, read, list, clear, delete.
@Suite struct ChatFlowTests {
    @Test func aConversationFromStartToDeletion() async throws {
        try await withConfab { h in
            let start = try await h.post("/chat/start", ["user_id": "alice", "role": "teacher"])
            #expect(start.status == 200)
            #expect((start.json["welcome_message"] as? String)?.isEmpty == false)
            #expect(start.json["user_id"] as? String == "alice")
            let session = try #require(start.json["session_id"] as? String)
            #expect(UUID(uuidString: session) != nil)

            var listed = try await h.get("/chat/sessions?user_id=alice").json["sessions"] as? [[String: Any]]
            #expect(listed?.map { $0["id"] as? String } == [session])
            #expect(listed?.first?["persona"] as? String == "teacher")

            let turn = try await h.stream(h.streamPath(user: "alice", session: session, message: "hello there"))
            #expect(turn.status == 200)
            #expect(turn.headers["content-type"] == "text/event-stream")
            #expect(turn.headers["cache-control"] == "no-cache")
            #expect(turn.objects.first?["session_id"] as? String == session)
            let replyID = try #require(turn.objects.first?["message_id"] as? String)
            #expect(turn.text == "Echo: hello there")
            #expect(turn.data.last == "[DONE]")
            #expect(turn.last["finish_reason"] as? String == "stop")
            #expect((turn.last["usage"] as? [String: Any])?["completion_tokens"] as? Int == 3)

            let history = try await h.get("/chat/history?user_id=alice&session_id=\(session)").json
            let messages = try #require(history["messages"] as? [[String: Any]])
            #expect(history["total"] as? Int == 2)
            #expect(messages.map { $0["role"] as? String } == ["user", "assistant"])
            #expect(messages.map { $0["content"] as? String } == ["hello there", "Echo: hello there"])
            #expect(messages[1]["id"] as? String == replyID)
            #expect(messages[1]["status"] as? String == "complete")
            #expect(messages[1]["finish_reason"] as? String == "stop")
            #expect(messages[0]["timestamp"] as? Double ?? 0 > 1_700_000_000)

            let second = try await h.startSession("alice")
            listed = try await h.get("/chat/sessions?user_id=alice").json["sessions"] as? [[String: Any]]
            #expect(listed?.map { $0["id"] as? String } == [second, session], "newest activity first")
            _ = try await h.stream(h.streamPath(user: "alice", session: session, message: "again"))
            listed = try await h.get("/chat/sessions?user_id=alice").json["sessions"] as? [[String: Any]]
            #expect(listed?.map { $0["id"] as? String } == [session, second])
            #expect(listed?.first?["title"] as? String == "hello there")
            #expect(listed?.first?["message_count"] as? Int == 4)
            #expect(((listed?.first?["usage"] as? [String: Any])?["completion_tokens"] as? Int ?? 0) > 0)

            let cleared = try await h.delete("/chat/history/\(session)?user_id=alice")
            #expect(cleared.status == 200)
            #expect(try await h.get("/chat/history?user_id=alice&session_id=\(session)").json["total"] as? Int == 0)
            #expect(try await h.get("/chat/sessions?user_id=alice").json["total"] as? Int == 2, "clearing keeps the session")

            #expect(try await h.delete("/chat/sessions/\(second)?user_id=alice").status == 200)
            #expect(try await h.get("/chat/history?user_id=alice&session_id=\(second)").status == 404)
            #expect(try await h.delete("/chat/sessions/\(second)?user_id=alice").status == 404)

            _ = try await h.startSession("alice")
            let all = try await h.delete("/chat/sessions?user_id=alice")
            #expect(all.json["deleted"] as? Int == 2)
            #expect(try await h.get("/chat/sessions?user_id=alice").json["sessions"] as? [Any] != nil)
            #expect((try await h.get("/chat/sessions?user_id=alice").json["sessions"] as? [Any])?.isEmpty == true)
            #expect(try await h.keys().isEmpty, "nothing of alice is left in Redis")
        }
    }

    @Test func usersNeverSeeEachOthersSessions() async throws {
        try await withConfab { h in
            let session = try await h.startSession("alice")
            _ = try await h.stream(h.streamPath(user: "alice", session: session, message: "secret"))
            #expect(try await h.get("/chat/history?user_id=mallory&session_id=\(session)").status == 404)
            #expect(try await h.stream(h.streamPath(user: "mallory", session: session, message: "hi")).status == 404)
            #expect(try await h.delete("/chat/history/\(session)?user_id=mallory").status == 404)
            #expect(try await h.delete("/chat/sessions/\(session)?user_id=mallory").status == 404)
            #expect(try await h.delete("/chat/sessions?user_id=mallory").json["deleted"] as? Int == 0)
            #expect((try await h.get("/chat/sessions?user_id=mallory").json["sessions"] as? [Any])?.isEmpty == true)
            #expect(try await h.get("/chat/history?user_id=alice&session_id=\(session)").json["total"] as? Int == 2)
        }
    }

    @Test func longMessagesGoByPost() async throws {
        try await withConfab { h in
            let session = try await h.startSession("bob")
            let message = String(repeating: "long ", count: 1000)
            let body = try JSONSerialization.data(withJSONObject: ["user_id": "bob", "session_id": session, "message": message, "role": "programmer"])
            let turn = try await h.stream("/chat/stream", method: .POST, body: String(decoding: body, as: UTF8.self))
            #expect(turn.status == 200)
            #expect(turn.text.hasPrefix("Echo: long long"))
            let sent = try JSONSerialization.jsonObject(with: h.upstream.stats.lastRequest) as! [String: Any]
            let messages = sent["messages"] as! [[String: String]]
            #expect(messages.first?["content"]?.contains("expert programmer") == true)
            #expect(messages.last?["content"] == message)
        }
    }

    @Test func rolesListThePersonas() async throws {
        try await withConfab { h in
            let roles = try await h.get("/roles").json
            let ids = (roles["roles"] as? [[String: Any]])?.compactMap { $0["id"] as? String }
            #expect(ids == ["assistant", "teacher", "programmer", "scout", "advisor"])
            #expect(roles["default_role"] as? String == "assistant")
            #expect((roles["roles"] as? [[String: Any]])?.allSatisfy { ($0["name"] as? String)?.isEmpty == false && $0["description"] != nil } == true)
        }
    }
}
