import Foundation
import NIOHTTP1
import RedisClient
import Testing
import TestSupport

/// The OpenAI and Open WebUI doors over the one conversation store: what each keeps, what the
/// model is sent, the errors in each door's own shape. (system-tests/test_openai_sdk.py and
/// test_openwebui_client.py drive the real clients.)
@Suite struct FrontDoorTests {
    @Test func aKeptCompletionStoresOnlyItsNewTurnAndTheModelGetsWhatTheClientSent() async throws {
        try await withConfab { h in
            let ada = try await h.register("door-ada")
            let history: [[String: Any]] = [["role": "user", "content": "first"], ["role": "assistant", "content": "one"],
                                            ["role": "user", "content": "second"]]
            let made = try await h.send(.POST, "/v1/chat/completions", ["model": "teacher", "messages": history],
                                        headers: ada.auth.merging(["X-Confab-Store": "true"]) { a, _ in a })
            #expect(made.status == 200, "\(made.body)")
            let session = try #require(made.headers["x-confab-session-id"])
            let sent = try #require(try JSONSerialization.jsonObject(with: h.upstream.stats.lastRequest) as? [String: Any])
            let messages = try #require(sent["messages"] as? [[String: Any]])
            #expect(messages.map { $0["role"] as? String } == ["system", "user", "assistant", "user"])
            #expect(messages.last?["content"] as? String == "second")

            let again = try await h.send(.POST, "/v1/chat/completions",
                                         ["model": "teacher", "messages": history + [["role": "assistant", "content": "two"],
                                                                                     ["role": "user", "content": "third"]]],
                                         headers: ada.auth.merging(["X-Confab-Session-Id": session]) { a, _ in a })
            #expect(again.status == 200, "\(again.body)")
            let stored = try await h.send(.GET, "/chat/history?session_id=\(session)", headers: ada.auth).json["messages"] as? [[String: Any]]
            #expect(stored?.map { $0["content"] as? String } == ["second", "Echo: second", "third", "Echo: third"],
                    "each completion keeps its own message and reply, never the history it was sent")

            // Without a header nothing is kept: the user still has the one session.
            let stateless = try await h.send(.POST, "/v1/chat/completions", ["model": "assistant", "messages": history], headers: ada.auth)
            #expect(stateless.status == 200 && stateless.headers["x-confab-session-id"] == nil)
            let sessions = try await h.send(.GET, "/chat/sessions", headers: ada.auth).json["sessions"] as? [[String: Any]]
            #expect(sessions?.count == 1)
        }
    }

    @Test func theClientsToolCallsComeBackToItAndEndTheTurn() async throws {
        try await withConfab { h in
            let bo = try await h.register("door-bo")
            let tool: [String: Any] = ["type": "function", "function": ["name": "get_weather", "description": "The weather in a city",
                                                                         "parameters": ["type": "object"]]]
            let ask: [String: Any] = ["model": "assistant", "tools": [tool],
                                      "messages": [["role": "user", "content": #"[[tool=get_weather]] {"city":"Oslo"}"#]]]
            let whole = try await h.send(.POST, "/v1/chat/completions", ask, headers: bo.auth)
            let choice = try #require((whole.json["choices"] as? [[String: Any]])?.first)
            #expect(choice["finish_reason"] as? String == "tool_calls")
            let call = try #require(((choice["message"] as? [String: Any])?["tool_calls"] as? [[String: Any]])?.first)
            let function = call["function"] as? [String: Any]
            #expect(function?["name"] as? String == "get_weather")
            #expect(function?["arguments"] as? String == #"{"city":"Oslo"}"#)
            #expect(h.upstream.stats.total == 1, "Confab ran no tool and did not call the model again")
            let offered = try #require(try JSONSerialization.jsonObject(with: h.upstream.stats.lastRequest) as? [String: Any])
            #expect((offered["tools"] as? [[String: Any]])?.count == 1, "only the client's tools are offered")

            var streamed = ask
            streamed["stream"] = true
            let stream = try await h.stream("/v1/chat/completions", method: .POST,
                                            body: String(decoding: try JSONSerialization.data(withJSONObject: streamed), as: UTF8.self),
                                            headers: bo.auth)
            let deltas = stream.objects.compactMap { (($0["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["tool_calls"] }
            let arguments = deltas.compactMap { (($0 as? [[String: Any]])?.first?["function"] as? [String: Any])?["arguments"] as? String }
            #expect(arguments.joined() == #"{"city":"Oslo"}"#)
            let reasons = stream.objects.compactMap { ($0["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String }
            #expect(reasons == ["tool_calls"])
            #expect(stream.data.last == "[DONE]")
        }
    }

    @Test func eachDoorRefusesBadInputInItsOwnShapeAndWritesNothing() async throws {
        try await withConfab { h in
            let cy = try await h.register("door-cy")
            // Requests are metered (the meter's key is new each minute): everything else must stay as it was.
            func data() async throws -> [String] { try await h.keys().filter { !$0.contains(":rate:") } }
            let before = try await data()
            let openAI = try await h.send(.POST, "/v1/chat/completions", ["model": "assistant", "messages": []], headers: cy.auth)
            #expect(openAI.status == 400 && openAI.errorCode == "invalid_messages")
            #expect((openAI.json["error"] as? [String: Any])?.keys.contains("param") == true)
            let unknownModel = try await h.send(.POST, "/v1/responses", ["model": "nobody", "input": "hi"], headers: cy.auth)
            #expect(unknownModel.status == 404 && unknownModel.errorCode == "model_not_found")
            let both = try await h.send(.POST, "/v1/responses", ["model": "assistant", "input": "hi", "previous_response_id": "resp_x",
                                                                 "conversation": "conv_y"], headers: cy.auth)
            #expect(both.status == 400)
            let webUI = try await h.send(.POST, "/api/chat/completions", ["model": "assistant", "messages": [["role": "user", "content": ""]]],
                                         headers: cy.auth)
            #expect(webUI.status == 400 && webUI.json["detail"] is String && webUI.json["error"] == nil)
            let badChat = try await h.send(.POST, "/api/v1/chats/new", ["chat": "not an object"], headers: cy.auth)
            #expect(badChat.status == 400 && badChat.json["detail"] is String)
            let unknownChat = try await h.send(.GET, "/api/v1/chats/\(UUID().uuidString)", headers: cy.auth)
            #expect(unknownChat.status == 404 && unknownChat.json["detail"] is String)
            let noKey = try await h.request(.GET, "/v1/models")
            #expect(noKey.status == 401 && noKey.errorCode == "credentials_required")
            let tooMany = try await h.send(.POST, "/v1/conversations", ["metadata": Dictionary(uniqueKeysWithValues: (0..<17).map { ("k\($0)", "v") })],
                                           headers: cy.auth)
            #expect(tooMany.status == 400 && tooMany.errorCode == "invalid_metadata")
            #expect(try await data() == before, "a refused request writes nothing")
        }
    }

    @Test func aResponseChainIsOneSessionThatEveryDoorSees() async throws {
        try await withConfab { h in
            let di = try await h.register("door-di")
            let first = try await h.send(.POST, "/v1/responses", ["model": "programmer", "input": "remember 42"], headers: di.auth)
            #expect(first.json["status"] as? String == "completed", "\(first.body)")
            let firstID = try #require(first.json["id"] as? String)
            let second = try await h.send(.POST, "/v1/responses", ["model": "programmer", "input": "what number?",
                                                                   "previous_response_id": firstID, "instructions": "Answer briefly."],
                                          headers: di.auth)
            let sent = try #require(try JSONSerialization.jsonObject(with: h.upstream.stats.lastRequest) as? [String: Any])
            let contents = (sent["messages"] as? [[String: Any]])?.compactMap { $0["content"] as? String } ?? []
            #expect(contents.contains("remember 42") && contents.contains("Answer briefly.") && contents.last == "what number?")
            let conversation = try #require((second.json["conversation"] as? [String: Any])?["id"] as? String)
            let items = try await h.send(.GET, "/v1/conversations/\(conversation)/items?order=asc&limit=3", headers: di.auth)
            #expect((items.json["data"] as? [[String: Any]])?.count == 3 && items.json["has_more"] as? Bool == true)
            let sessions = try await h.send(.GET, "/chat/sessions", headers: di.auth).json["sessions"] as? [[String: Any]]
            #expect(sessions?.count == 1 && sessions?.first?["message_count"] as? Int == 4 && sessions?.first?["title"] as? String == "remember 42")
            let chats = try await h.send(.GET, "/api/v1/chats/list", headers: di.auth)
            #expect((chats.body.count > 2) && chats.body.contains("remember 42"), "Open WebUI's list shows it too")

            // The instructions were for the second response only.
            _ = try await h.send(.POST, "/v1/responses", ["model": "programmer", "input": "and now?", "conversation": conversation],
                                 headers: di.auth)
            let third = try #require(try JSONSerialization.jsonObject(with: h.upstream.stats.lastRequest) as? [String: Any])
            #expect(!((third["messages"] as? [[String: Any]])?.contains { $0["content"] as? String == "Answer briefly." } ?? true))

            // Another user cannot read or continue it.
            let eve = try await h.register("door-eve")
            #expect(try await h.send(.GET, "/v1/responses/\(firstID)", headers: eve.auth).status == 404)
            let hijack = try await h.send(.POST, "/v1/responses", ["model": "assistant", "input": "mine now", "conversation": conversation],
                                          headers: eve.auth)
            #expect(hijack.status == 404)
            #expect(try await h.send(.GET, "/api/v1/chats/list", headers: eve.auth).body == "[]")
        }
    }

    @Test func oneResponseAtATimeInAConversation() async throws {
        try await withConfab { h in
            let ed = try await h.register("door-ed")
            let made = try await h.send(.POST, "/v1/conversations", [:], headers: ed.auth)
            let conversation = try #require(made.json["id"] as? String)
            let body = #"{"model":"assistant","stream":true,"conversation":"\#(conversation)","input":"[[tokens=200]] [[delay=10]] long"}"#
            async let first = h.stream("/v1/responses", method: .POST, body: body, headers: ed.auth)
            let session = String(conversation.dropFirst(5))
            var uuid = session
            for offset in [8, 13, 18, 23] { uuid.insert("-", at: uuid.index(uuid.startIndex, offsetBy: offset)) }
            try await h.waitUntilStreaming(storeID: ed.id, uuid)
            let second = try await h.send(.POST, "/v1/responses", ["model": "assistant", "input": "me too", "conversation": conversation],
                                          headers: ed.auth)
            #expect(second.status == 409 && second.errorCode == "session_busy")
            let events = try await first.data.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
            let types = events.compactMap { $0["type"] as? String }
            #expect(Array(types.prefix(4)) == ["response.created", "response.in_progress", "response.output_item.added",
                                               "response.content_part.added"])
            #expect(types.last == "response.completed")
            #expect(events.map { $0["sequence_number"] as? Int } == Array(0..<events.count).map { Optional($0) })
        }
    }

    @Test func aCompletionKeptNowhereStillHoldsItsStreamSlot() async throws {
        try await withConfab { h in
            let fay = try await h.register("door-fay")
            let limited = try await h.send(.POST, "/api/v1/keys", ["name": "one at a time", "limits": ["concurrent_streams": 1]],
                                           headers: ["Authorization": "Bearer \(fay.token)"])
            let key = try #require(limited.json["key"] as? String)
            let auth = ["Authorization": "Bearer \(key)"]
            let slow = #"{"model":"assistant","stream":true,"messages":[{"role":"user","content":"[[tokens=200]] [[delay=10]] long"}]}"#
            async let first = h.stream("/v1/chat/completions", method: .POST, body: slow, headers: auth)
            let slots = "confab:{u:\(fay.id)}:rate:key:key_\(key.split(separator: "_")[1]):streams"
            var waited = 0
            while try await h.redis.send(RedisCommand("ZCARD", slots)).int != 1, waited < 1000 {
                try await Task.sleep(for: .milliseconds(10))
                waited += 1
            }
            let second = try await h.send(.POST, "/v1/chat/completions",
                                          ["model": "assistant", "messages": [["role": "user", "content": "me too"]]], headers: auth)
            #expect(second.status == 429 && second.errorCode == "rate_limit_exceeded", "\(second.body)")
            #expect(try await first.data.last == "[DONE]")
            #expect(try await h.redis.send(RedisCommand("ZCARD", slots)).int == 0, "the slot is freed when the turn ends")
            let again = try await h.send(.POST, "/v1/chat/completions",
                                         ["model": "assistant", "messages": [["role": "user", "content": "now"]]], headers: auth)
            #expect(again.status == 200)
        }
    }
}
