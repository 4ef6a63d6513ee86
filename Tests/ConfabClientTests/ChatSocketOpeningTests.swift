import ConfabClient
import Testing

/// Opening `/chat/ws` where nothing listens fails with a typed error, and never runs the body.
@Suite struct ChatSocketOpeningTests {
    @Test func aServerThatIsDownIsUnreachable() async throws {
        // Port 1 on the loopback: nothing listens there, so the connection is refused at once.
        let client = ConfabClient(baseURL: "http://127.0.0.1:1", apiKey: "cfk_any")
        for _ in 0..<3 {
            await #expect {
                _ = try await client.withChatSocket { _ in Issue.record("the body ran") }
            } throws: { error in
                guard case .unreachable = error as? ConfabClientError else { return false }
                return true
            }
        }
    }
}
