import ConfabCore
import ConfabServer
import Foundation
import Logging
import Testing
import TestSupport

/// Every way a turn can end is stored exactly once, and the client is told.
@Suite struct EndingTests {
    func storedReplies(_ h: Harness, _ user: String, _ session: String) async throws -> [[String: Any]] {
        let messages = try await h.get("/chat/history?user_id=\(user)&session_id=\(session)").json["messages"] as? [[String: Any]] ?? []
        return messages.filter { $0["role"] as? String == "assistant" }
    }

    /// The stored replies, once there is one (a turn whose client left stores it a moment later); up to 10 s.
    func storedRepliesOnceThere(_ h: Harness, _ user: String, _ session: String) async throws -> [[String: Any]] {
        for _ in 0..<500 {
            let replies = try await storedReplies(h, user, session)
            if !replies.isEmpty { return replies }
            try await Task.sleep(for: .milliseconds(20))
        }
        return []
    }

    @Test(arguments: modelFaults)
    func modelFailuresAreStoredAsErrorsAndReported(message: String, code: String) async throws {
        try await withConfab(configure: faultDeadlines(code, short: 1)) { h in
            let session = try await h.startSession("erin")
            let turn = try await h.stream(h.streamPath(user: "erin", session: session, message: message))
            #expect(turn.status == 200)
            #expect(turn.data.last == "[DONE]")
            let error = try #require(turn.last["error"] as? [String: Any], "last event before [DONE]: \(turn.data)")
            #expect(error["code"] as? String == code)
            #expect((error["message"] as? String)?.isEmpty == false)
            #expect(turn.last["status"] as? String == "error")
            let replies = try await storedReplies(h, "erin", session)
            #expect(replies.count == 1, "stored exactly once")
            #expect(replies.first?["status"] as? String == "error")
            #expect(replies.first?["content"] as? String == turn.text)
            #expect((replies.first?["error"] as? [String: Any])?["code"] as? String == code)
            #expect(await h.upstream.stats.becomesIdle())
        }
    }

    @Test func clientLeavingStoresThePartialAndCancelsTheUpstream() async throws {
        try await withConfab { h in
            let session = try await h.startSession("dan")
            let seen = try await h.stream(h.streamPath(user: "dan", session: session, message: "[[tokens=400]] [[delay=10]] go"), leaveAfter: 5)
            #expect(seen.text.hasPrefix("Echo: go word1"))
            let replies = try await storedRepliesOnceThere(h, "dan", session)
            #expect(replies.count == 1)
            #expect(replies.first?["status"] as? String == "partial")
            #expect(replies.first?["reason"] as? String == "client_disconnected")
            let stored = replies.first?["content"] as? String ?? ""
            #expect(stored.hasPrefix(seen.text) && stored.count < 400 * 6, "the partial holds at least what the client saw")
            #expect(await h.upstream.stats.becomesIdle(), "the upstream request was cancelled")
            // The lock is free again: the next turn streams.
            #expect(try await h.stream(h.streamPath(user: "dan", session: session, message: "next")).status == 200)
        }
    }

    /// `CONFAB_ON_DISCONNECT=continue`: a reply whose client left is finished and stored whole.
    @Test func withContinueALeftReplyIsFinishedAndStoredWhole() async throws {
        try await withConfab(configure: { $0.onDisconnect = .continue }) { h in
            let session = try await h.startSession("cont")
            let seen = try await h.stream(h.streamPath(user: "cont", session: session, message: "[[tokens=80]] [[delay=10]] go"), leaveAfter: 3)
            #expect(seen.text.hasPrefix("Echo: go"))
            let replies = try await storedRepliesOnceThere(h, "cont", session)
            #expect(replies.count == 1)
            #expect(replies.first?["status"] as? String == "complete", "finished though nobody watched")
            let stored = replies.first?["content"] as? String ?? ""
            #expect(stored.hasPrefix(seen.text) && stored.hasSuffix(" word78"), "the whole reply: \(stored.suffix(40))")
            #expect(h.upstream.stats.total == 1)
        }
    }

    @Test func oneReplyAtATimePerSessionAcrossInstances() async throws {
        try await withConfab { h in
            let session = try await h.startSession("sam")
            async let first = h.stream(h.streamPath(user: "sam", session: session, message: "[[tokens=200]] [[delay=10]] one"))
            try await h.waitUntilStreaming("sam", session)
            let second = try await h.request(.GET, h.streamPath(user: "sam", session: session, message: "two"))
            #expect(second.status == 409)
            #expect(second.errorCode == "session_busy")

            // A second Confab instance on the same Redis sees the same lock.
            try await h.withSecondInstance { elsewhere in
                let third = try await elsewhere.request(.GET, h.streamPath(user: "sam", session: session, message: "three"))
                #expect(third.status == 409)
            }
            #expect(try await first.last["status"] as? String == "complete")
            let history = try await h.get("/chat/history?user_id=sam&session_id=\(session)").json["messages"] as? [[String: Any]]
            #expect(history?.map { $0["role"] as? String } == ["user", "assistant"], "no message from the refused requests")
        }
    }

    @Test func shutdownStoresPartialsWithReasonShutdown() async throws {
        try await withConfab { h in
            let session = try await h.startSession("sue")
            async let turn = h.stream(h.streamPath(user: "sue", session: session, message: "[[tokens=400]] [[delay=10]] go"))
            try await h.waitUntilStreaming("sue", session)
            await h.dependencies.turns.activeTurns.shutdown()
            let seen = try await turn
            #expect((seen.last["error"] as? [String: Any])?["code"] as? String == "shutdown")
            #expect(seen.data.last == "[DONE]")
            // The API refuses everything while shutting down: read the store itself.
            let reply = try await h.dependencies.turns.store.history(user: "anon:sue", session: session)?.last
            #expect(reply?.status == .partial)
            #expect(reply?.reason == "shutdown")
            #expect(reply?.content == seen.text)
            #expect(try await h.get("/chat/sessions?user_id=sue").status == 503, "new requests are refused")
            let refused = try await h.request(.GET, h.streamPath(user: "sue", session: session, message: "more"))
            #expect(refused.status == 503)
            #expect(try await h.get("/ready").status == 503)
        }
    }

    @Test func aSessionDeletedMidReplyStaysDeleted() async throws {
        try await withConfab { h in
            let session = try await h.startSession("del")
            async let turn = h.stream(h.streamPath(user: "del", session: session, message: "[[tokens=100]] [[delay=10]] go"))
            try await h.waitUntilStreaming("del", session)
            #expect(try await h.delete("/chat/sessions/\(session)?user_id=del").status == 200)
            #expect(try await turn.data.last == "[DONE]")
            #expect(try await h.get("/chat/history?user_id=del&session_id=\(session)").status == 404)
            #expect(try await h.keys().isEmpty, "no half-written session and no lock is left behind")
        }
    }

    @Test func debugCaptureKeepsTheRawExchange() async throws {
        try await withConfab(configure: { $0.debugCapture = true }) { h in
            let session = try await h.startSession("dev")
            let turn = try await h.stream(h.streamPath(user: "dev", session: session, message: "capture me"))
            let id = try #require(turn.objects.first?["message_id"] as? String)
            let capture = try await h.get("/chat/debug/\(id)?user_id=dev")
            #expect(capture.status == 200)
            #expect((capture.json["request"] as? String)?.contains("capture me") == true)
            #expect((capture.json["response"] as? String)?.contains("data: [DONE]") == true)
            let ttl = try await h.redis.send(.init("TTL", "confab:{u:anon:dev}:debug:\(id)")).int ?? 0
            #expect(ttl > 0 && ttl <= 3600)
            #expect(try await h.get("/chat/debug/\(id)?user_id=other").status == 404)
        }
    }

    @Test func debugCaptureIsOffByDefault() async throws {
        try await withConfab { h in
            let session = try await h.startSession("dev")
            let turn = try await h.stream(h.streamPath(user: "dev", session: session, message: "no capture"))
            let id = try #require(turn.objects.first?["message_id"] as? String)
            #expect(try await h.get("/chat/debug/\(id)?user_id=dev").status == 404)
            #expect(try await h.keys("*debug*").isEmpty)
        }
    }
}

@Suite struct KeepAliveTests {
    @Test func silentModelsGetKeepAliveComments() async throws {
        try await withConfab(configure: { $0.keepAliveSeconds = 0.1 }) { h in
            let session = try await h.startSession("kai")
            let raw = try await h.get(h.streamPath(user: "kai", session: session, message: "[[first=450]] slow start"))
            let head = raw.body.components(separatedBy: "data: {\"content\"").first ?? ""
            #expect(head.components(separatedBy: ": keep-alive\n\n").count - 1 >= 2, "keep-alives before the first token: \(head)")
            #expect(raw.body.hasSuffix("data: [DONE]\n\n"))
            let stream = try await h.stream(h.streamPath(user: "kai", session: session, message: "[[first=300]] again"))
            #expect(stream.text == "Echo: again", "keep-alives never reach a client as data")
        }
    }
}
