import ConfabServer
import Foundation
import Testing

/// `/openapi.json` describes exactly the routes the server has.
@Suite struct OpenAPITests {
    @Test func documentMatchesTheRoutes() async throws {
        try await withConfab { h in
            let reply = try await h.get("/openapi.json")
            #expect(reply.status == 200)
            #expect(reply.headers["content-type"]?.hasPrefix("application/json") == true)
            let paths = try #require(reply.json["paths"] as? [String: [String: Any]])
            var documented: [String: Set<String>] = [:]
            for (path, operations) in paths {
                documented[path] = Set(operations.keys.filter { ["get", "post", "put", "patch", "delete"].contains($0) }.map { $0.uppercased() })
            }
            let served = apiRoutes(h.dependencies).mapValues(Set.init)
            #expect(documented == served, "documented but not served, or served but not documented")
            // Every documented operation answers something other than 404/405 at its path.
            #expect(try await h.get("/chat/sessions?user_id=doc").status == 200)
        }
    }
}
