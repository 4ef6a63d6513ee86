import Foundation
@testable import ConfabServer
import NIOHTTP1
import RedisClient
import Testing
import TestSupport

/// Hostile input beyond the schema: each gets a clear 4xx, writes nothing, and the service
/// keeps serving.
@Suite struct HostileInputTests {
    @Test func deeplyNestedAndHugeJSON() async throws {
        try await withConfab { h in
            let session = try await h.startSession("deep")
            let nested = String(repeating: "[", count: 20_000) + String(repeating: "]", count: 20_000)
            let deep = try await h.request(.POST, "/chat/stream", body: #"{"user_id":"deep","session_id":"\#(session)","message":\#(nested)}"#)
            #expect(deep.status == 400)
            #expect(deep.errorCode == "invalid_json")
            let wide = "{" + (0..<5000).map { "\"k\($0)\":\"v\"" }.joined(separator: ",") + "}"  // under the body limit, many keys
            #expect(try await h.request(.POST, "/chat/stream", body: wide).errorCode == "missing_parameter")
            let huge = try await h.request(.POST, "/chat/stream", body: "{\"message\":\"" + String(repeating: "x", count: 5_000_000) + "\"}")
            #expect(huge.status == 413)
            #expect(try await h.history("deep", session).isEmpty, "nothing was written")
            #expect(try await h.get("/health").status == 200)
        }
    }

    @Test func invalidUTF8() async throws {
        try await withConfab { h in
            let session = try await h.startSession("utf")
            let bytes = Array(#"{"user_id":"utf","session_id":"\#(session)","message":"a"#.utf8) + [0xFF, 0xFE] + Array(#""}"#.utf8)
            let body = try await h.request(.POST, "/chat/stream", bytes: bytes)
            #expect(body.status == 400)
            #expect(body.errorCode == "invalid_utf8")
            for message in ["%FF%FE", "%C3", "%e2%82"] {
                let query = try await h.request(.GET, "/chat/stream?user_id=utf&session_id=\(session)&message=\(message)")
                #expect(query.status == 400, "\(message): \(query.body)")
                #expect(query.errorCode == "invalid_utf8")
            }
            #expect(try await h.history("utf", session).isEmpty, "nothing was written")
        }
    }

    /// The query check accepts what Foundation's decoding accepts.
    @Test(arguments: ["", "a=b", "a=%20b", "m=h%C3%A9llo+x", "m=%F0%9F%98%80", "m=%e2%82%ac", "m=%FF", "m=%zz", "m=%", "m=%4",
                      "m=%C3", "m=%C3%28", "m=%ED%A0%80", "m=100%25", "m=%00"])
    func queryEncodingAsFoundationDecodesIt(query: String) {
        #expect(QueryEncodingCheck<ConfabRequestContext>.decodesToUTF8(query)
                == (query.replacingOccurrences(of: "+", with: " ").removingPercentEncoding != nil))
    }

    @Test func injectionThroughTheQuery() async throws {
        try await withConfab { h in
            let session = try await h.startSession("inj")
            let crlf = try await h.request(.GET, "/chat/stream?user_id=inj&session_id=\(session)&message=hi&role=assistant%0D%0ASet-Cookie:%20a=1")
            #expect(crlf.status == 400)
            #expect(crlf.headers["set-cookie"] == nil, "no header was injected")
            for user in ["inj%0D%0AX:1", "%2A", "a%3Ab", "%7Bu%3Ax%7D", "inj%00"] {
                let reply = try await h.request(.GET, "/chat/history?user_id=\(user)&session_id=\(session)")
                #expect(reply.status == 400, "\(user)")
            }
            #expect(try await h.keys().allSatisfy { $0.hasPrefix("confab:{u:anon:inj}:") }, "only the real user's keys exist")
        }
    }

    @Test func stalledRequestsAreClosed() async throws {
        try await withConfab(configure: { $0.requestIdleTimeout = 1 }) { h in
            let port = Int(h.baseURL.split(separator: ":").last!)!
            // A slow-loris client: headers promise a body that never comes.
            let stalled = try RawConnection(port: port)
            try stalled.send("POST /chat/stream HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"us")
            #expect(try await h.get("/health").status == 200, "other clients are served meanwhile")
            #expect(await stalled.waitForClose(seconds: 5), "the stalled connection is closed after CONFAB_REQUEST_IDLE_TIMEOUT")
        }
    }

    @Test func tenThousandSessionsForOneUser() async throws {
        try await withConfab { h in
            let limit = h.dependencies.settings.maxSessionsPerUser
            let statuses = try await withThrowingTaskGroup(of: Int.self) { group in
                var statuses: [Int] = []
                for n in 0..<10_000 {
                    if n >= 64, let status = try await group.next() { statuses.append(status) }
                    group.addTask { try await h.post("/chat/start?user_id=many").status }
                }
                for try await status in group { statuses.append(status) }
                return statuses
            }
            #expect(statuses.count { $0 == 200 } == limit)
            #expect(statuses.count { $0 == 409 } == 10_000 - limit)
            let listed = try await h.get("/chat/sessions?user_id=many")
            #expect((listed.json["sessions"] as? [[String: Any]])?.count == h.dependencies.settings.sessionListLimit)
            #expect(try await h.redis.send(RedisCommand("ZCARD", "confab:{u:anon:many}:sessions")).int == limit)
        }
    }
}
