import Foundation
import NIOHTTP1
import Testing
import TestSupport

/// Bad input gets a clear JSON error with the right 4xx status, and writes nothing.
@Suite struct BadInputTests {
    struct Case: Sendable, CustomTestStringConvertible {
        var method: HTTPMethod
        var path: String
        var body: String?
        var status: Int
        var code: String
        var testDescription: String { "\(method) \(path.prefix(60)) → \(status) \(code)" }
    }

    static let known = "11111111-1111-4111-8111-111111111111"  // the test's session id placeholder
    static let unknown = "22222222-2222-4222-8222-222222222222"
    static let longUser = String(repeating: "u", count: 65)
    static let cases: [Case] = [
        Case(method: .GET, path: "/chat/stream?session_id=S&message=hi", status: 400, code: "missing_parameter"),
        Case(method: .GET, path: "/chat/stream?user_id=&session_id=S&message=hi", status: 400, code: "invalid_user_id"),
        Case(method: .GET, path: "/chat/stream?user_id=\(longUser)&session_id=S&message=hi", status: 400, code: "invalid_user_id"),
        Case(method: .GET, path: "/chat/stream?user_id=a:b&session_id=S&message=hi", status: 400, code: "invalid_user_id"),
        Case(method: .GET, path: "/chat/stream?user_id=%7Bx%7D&session_id=S&message=hi", status: 400, code: "invalid_user_id"),
        Case(method: .GET, path: "/chat/stream?user_id=a%20b&session_id=S&message=hi", status: 400, code: "invalid_user_id"),
        Case(method: .GET, path: "/chat/stream?user_id=a*&session_id=S&message=hi", status: 400, code: "invalid_user_id"),
        Case(method: .GET, path: "/chat/stream?user_id=a%0D%0Ab&session_id=S&message=hi", status: 400, code: "invalid_user_id"),
        Case(method: .GET, path: "/chat/stream?user_id=tess&message=hi", status: 400, code: "missing_parameter"),
        Case(method: .GET, path: "/chat/stream?user_id=tess&session_id=not-a-uuid&message=hi", status: 400, code: "invalid_session_id"),
        Case(method: .GET, path: "/chat/stream?user_id=tess&session_id=\(unknown)&message=hi", status: 404, code: "session_not_found"),
        Case(method: .GET, path: "/chat/stream?user_id=tess&session_id=S", status: 400, code: "missing_parameter"),
        Case(method: .GET, path: "/chat/stream?user_id=tess&session_id=S&message=", status: 400, code: "empty_message"),
        Case(method: .GET, path: "/chat/stream?user_id=tess&session_id=S&message=%20%0A%20", status: 400, code: "empty_message"),
        Case(method: .GET, path: "/chat/stream?user_id=tess&session_id=S&message=hi&role=pirate", status: 400, code: "unknown_persona"),
        Case(method: .POST, path: "/chat/stream", body: #"{"user_id":"tess","session_id":"S","message":"\#(String(repeating: "x", count: 8001))"}"#,
             status: 400, code: "message_too_long"),
        Case(method: .POST, path: "/chat/stream", body: #"{"user_id":"tess","#, status: 400, code: "invalid_json"),
        Case(method: .POST, path: "/chat/stream", body: #"["tess"]"#, status: 400, code: "invalid_json"),
        Case(method: .POST, path: "/chat/stream", body: #"{"user_id":"tess","session_id":"S","message":42}"#, status: 400, code: "invalid_field"),
        Case(method: .POST, path: "/chat/stream", body: #"{"user_id":"tess","pad":"\#(String(repeating: "p", count: 70_000))"}"#,
             status: 413, code: "payload_too_large"),
        Case(method: .PUT, path: "/chat/stream", status: 405, code: "method_not_allowed"),
        Case(method: .PATCH, path: "/chat/history", status: 405, code: "method_not_allowed"),
        Case(method: .GET, path: "/chat/start?user_id=tess", status: 405, code: "method_not_allowed"),
        Case(method: .GET, path: "/chat/history?user_id=tess&session_id=\(unknown)", status: 404, code: "session_not_found"),
        Case(method: .GET, path: "/chat/history?user_id=tess&session_id=S%7D", status: 400, code: "invalid_session_id"),
        Case(method: .DELETE, path: "/chat/history/not-a-uuid?user_id=tess", status: 400, code: "invalid_session_id"),
        Case(method: .DELETE, path: "/chat/history/\(unknown)?user_id=tess", status: 404, code: "session_not_found"),
        Case(method: .DELETE, path: "/chat/sessions/\(unknown)?user_id=tess", status: 404, code: "session_not_found"),
        Case(method: .DELETE, path: "/chat/sessions/S", status: 400, code: "missing_parameter"),
        Case(method: .POST, path: "/chat/start", status: 400, code: "missing_parameter"),
        Case(method: .POST, path: "/chat/start", body: #"{"user_id":"tess","role":"pirate"}"#, status: 400, code: "unknown_persona"),
        Case(method: .POST, path: "/chat/start", body: #"{"user_id":["tess"]}"#, status: 400, code: "invalid_field"),
        Case(method: .GET, path: "/chat/sessions?user_id=tess&limit=0", status: 400, code: "invalid_limit"),
        Case(method: .GET, path: "/chat/history?user_id=other&session_id=S", status: 404, code: "session_not_found"),
        Case(method: .GET, path: "/chat/stream?user_id=other&session_id=S&message=hi", status: 404, code: "session_not_found"),
        Case(method: .GET, path: "/no/such/page", status: 404, code: "not_found"),
    ]

    @Test func eachBadRequestGetsAJSONErrorAndWritesNothing() async throws {
        try await withConfab { h in
            let session = try await h.startSession("tess")
            let before = try await h.keys()
            let ttlBefore = try await h.redis.send(.init("PTTL", "confab:{u:anon:tess}:sessions")).int ?? 0
            #expect(Self.cases.count >= 20)
            for c in Self.cases {
                let path = c.path.replacingOccurrences(of: "=S", with: "=\(session)").replacingOccurrences(of: "/S", with: "/\(session)")
                let body = c.body?.replacingOccurrences(of: "\"S\"", with: "\"\(session)\"")
                let reply = try await h.request(c.method, path, body: body)
                #expect(reply.status == c.status, "\(c.testDescription): got \(reply.status) \(reply.body.prefix(200))")
                #expect(reply.errorCode == c.code, "\(c.testDescription): got \(reply.body.prefix(200))")
                #expect(reply.headers["content-type"]?.hasPrefix("application/json") == true, "\(c.testDescription)")
                let error = reply.json["error"] as? [String: Any]
                #expect((error?["message"] as? String)?.isEmpty == false, "\(c.testDescription)")
            }
            #expect(try await h.keys() == before, "no key was written")
            #expect(try await h.get("/chat/history?user_id=tess&session_id=\(session)").json["total"] as? Int == 0)
            let ttlAfter = try await h.redis.send(.init("PTTL", "confab:{u:anon:tess}:sessions")).int ?? 0
            #expect(ttlAfter <= ttlBefore, "not even a TTL was refreshed")
            #expect(h.upstream.stats.total == 0, "the model was never called")
        }
    }

    @Test func userIDsCanBeNarrowedByAPattern() async throws {
        try await withConfab(configure: { $0.userIDPattern = "^emp-[0-9]+$" }) { h in
            #expect(try await h.post("/chat/start?user_id=emp-42").status == 200)
            let refused = try await h.post("/chat/start?user_id=guest")
            #expect(refused.status == 400 && refused.errorCode == "invalid_user_id")
            #expect(try await h.keys("*guest*").isEmpty)
        }
    }

    /// Fields this version does not read are ignored, whatever their type; the ones it reads are checked.
    @Test func unknownBodyFieldsAreIgnored() async throws {
        try await withConfab { h in
            let started = try await h.post("/chat/start", ["user_id": "tess", "client": ["name": "cli", "version": [1, 2]], "n": 3])
            #expect(started.status == 200, "\(started.body)")
            let session = try #require(started.json["session_id"] as? String)
            let stream = try await h.stream("/chat/stream", method: .POST,
                                            body: #"{"user_id":"tess","session_id":"\#(session)","message":"hi","temperature":0.2}"#)
            #expect(stream.status == 200 && stream.text == "Echo: hi")
        }
    }
}
