import Foundation
import NIOHTTP1
import Testing
import TestSupport

/// What an operator and a browser rely on: readiness, Redis outages, the page, CORS, SIGTERM.
@Suite struct OperationsTests {
    @Test func readinessFollowsRedis() async throws {
        try await withConfab { h in
            #expect(try await h.get("/health").status == 200)
            #expect(try await h.get("/ready").status == 200)
            let session = try await h.startSession("ops")
            _ = try await h.stream(h.streamPath(user: "ops", session: session, message: "before"))
            h.redisServer.kill()
            let ready = try await h.get("/ready")
            #expect(ready.status == 503)
            #expect(ready.errorCode == "store_unavailable")
            #expect(try await h.get("/health").status == 200, "the process itself is alive")
            let refused = try await h.request(.GET, h.streamPath(user: "ops", session: session, message: "during"))
            #expect(refused.status == 503)
            #expect(refused.errorCode == "store_unavailable")
            #expect(try await h.post("/chat/start?user_id=ops").status == 503)
            // Redis with no persistence comes back empty; Confab reconnects by itself.
            try await h.redisServer.start()
            #expect(try await h.get("/ready").status == 200)
            let fresh = try await h.startSession("ops")
            #expect(try await h.stream(h.streamPath(user: "ops", session: fresh, message: "after")).text == "Echo: after")
        }
    }

    @Test func servesTheWebPage() async throws {
        try await withConfab { h in
            let page = try await h.get("/")
            #expect(page.status == 200)
            #expect(page.headers["content-type"]?.hasPrefix("text/html") == true)
            #expect(page.body.contains("<title>Confab</title>"))
            for asset in ["/app.js", "/style.css", "/markdown.js"] {
                let reply = try await h.get(asset)
                #expect(reply.status == 200, "\(asset)")
                #expect(!reply.body.isEmpty)
            }
        }
    }

    @Test func corsAllowsOnlyConfiguredOrigins() async throws {
        try await withConfab(configure: { $0.corsOrigins = ["http://allowed.example"] }) { h in
            let allowed = try await h.request(.GET, "/roles", headers: ["Origin": "http://allowed.example"])
            #expect(allowed.headers["access-control-allow-origin"] == "http://allowed.example")
            let other = try await h.request(.GET, "/roles", headers: ["Origin": "http://evil.example"])
            #expect(other.headers["access-control-allow-origin"] == nil)
            let preflight = try await h.request(.OPTIONS, "/chat/stream", headers: [
                "Origin": "http://allowed.example", "Access-Control-Request-Method": "POST"])
            #expect(preflight.status == 204)
            #expect(preflight.headers["access-control-allow-methods"]?.contains("POST") == true)
            let error = try await h.request(.GET, "/chat/sessions", headers: ["Origin": "http://allowed.example"])
            #expect(error.status == 400)
            #expect(error.headers["access-control-allow-origin"] == "http://allowed.example", "errors carry CORS headers too")
        }
    }

    /// The real binary: SIGTERM with 50 streams in flight stores each partial with reason
    /// shutdown, refuses new requests and exits within the grace period.
    @Test func sigtermStoresPartialsAndExits() async throws {
        let binary = Harness.packageRoot.appendingPathComponent(".build/debug/confab").path
        guard FileManager.default.isExecutableFile(atPath: binary) else {
            Issue.record("\(binary) is missing: run `swift build` before `swift test` (scripts/test.sh does)")
            return
        }
        try await withConfab { h in
            let port = try freePort()
            var environment = ProcessInfo.processInfo.environment
            environment.merge([
                "CONFAB_PORT": "\(port)", "REDIS_URL": h.redisServer.url, "OPENAI_BASE_URL": h.upstreamURL,
                "CONFAB_SHUTDOWN_GRACE": "5", "CONFAB_STATIC_DIR": Harness.packageRoot.appendingPathComponent("static").path,
            ]) { _, new in new }
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("confab-\(port).log").path
            let confab = try ChildProcess(binary, ["serve", "--env-file", "/nonexistent"], environment: environment, logPath: log)
            let other = Harness(baseURL: "http://127.0.0.1:\(port)", redisServer: h.redisServer, redis: h.redis, upstream: h.upstream,
                                upstreamURL: h.upstreamURL, dependencies: h.dependencies, http: h.http)
            for _ in 0..<100 where (try? await other.get("/health"))?.status != 200 { try await Task.sleep(for: .milliseconds(50)) }
            // 50 streams in flight when SIGTERM arrives, 10 tokens a second each: a debug build on a
            // machine whose cores are busy must keep up, or the signal waits behind the backlog.
            var started: [String] = []
            for _ in 0..<50 { started.append(try await other.startSession("term")) }
            let sessions = started
            let turns = Task {
                try await withThrowingTaskGroup(of: (String, Harness.Stream).self) { group in
                    for session in sessions {
                        group.addTask { (session, try await other.stream(other.streamPath(user: "term", session: session, message: "[[tokens=100]] [[delay=100]] go"))) }
                    }
                    return try await group.reduce(into: [:]) { $0[$1.0] = $1.1 }
                }
            }
            for session in sessions { try await h.waitUntilStreaming("term", session) }
            let signalled = ContinuousClock.now
            confab.signal(SIGTERM)
            // Once the shutdown has begun, a new request (on a new connection) is refused: 503
            // while draining, or no connection at all once the listener is closed.
            var refused = false
            for _ in 0..<200 where !refused {
                guard let connection = try? RawConnection(port: port) else { refused = true; break }
                try? connection.send("POST /chat/start?user_id=term HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                let answer = await connection.readUntilClosed(seconds: 2)
                refused = answer.isEmpty || answer.hasPrefix("HTTP/1.1 503")
                if !refused { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(refused, "new requests are refused during shutdown")
            let seen = try await turns.value
            #expect(await confab.waitForExit(timeout: .seconds(6)), "Confab exits within its grace period")
            #expect(ContinuousClock.now - signalled < .seconds(6))
            for (session, stream) in seen {
                #expect((stream.last["error"] as? [String: Any])?["code"] as? String == "shutdown", "\(stream.data.suffix(2))")
                #expect(stream.data.last == "[DONE]")
                let history = try await h.history("term", session)
                #expect(history.map { $0["role"] as? String } == ["user", "assistant"], "nothing half-written")
                #expect(history.last?["status"] as? String == "partial")
                #expect(history.last?["reason"] as? String == "shutdown")
                #expect(history.last?["content"] as? String == stream.text)
            }
            #expect(try await h.keys("*lock*").isEmpty, "every session lock was released")
            await confab.stop(signal: SIGKILL)
        }
    }
}
