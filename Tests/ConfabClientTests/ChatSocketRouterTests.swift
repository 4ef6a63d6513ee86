@testable import ConfabClient
import Testing

/// `/chat/ws` frames are routed to their turn by request id; endings, refusals and a closed
/// socket end the turn's stream, and frames of no turn are dropped.
@Suite struct ChatSocketRouterTests {
    typealias Routed = ChatSocketRouter.RoutedFrame

    @Test func readsEventsEndingsAndRefusals() {
        #expect(ChatSocketRouter.route(#"{"request_id":"r1","content":"Hel"}"#) == Routed(requestID: "r1", outcome: .event(.text("Hel")), ends: false))
        let finish = ChatSocketRouter.route(#"{"request_id":"r1","type":"finish","message_id":"m","status":"complete","finish_reason":"stop"}"#)
        #expect(finish.ends && finish.requestID == "r1")
        let failed = ChatSocketRouter.route(
            #"{"request_id":"r2","type":"error","message_id":"m","status":"error","error":{"message":"the model crashed","type":"server_error","code":"upstream_error"}}"#)
        guard case .event(.error(let ending, let detail)) = failed.outcome else { Issue.record("\(failed)"); return }
        #expect(failed.ends && ending.status == "error" && detail.code == "upstream_error")
        // A stopped turn ends in a finish whose reason says so.
        let stopped = ChatSocketRouter.route(
            #"{"request_id":"r3","type":"finish","message_id":"m","status":"partial","finish_reason":"partial","reason":"stopped"}"#)
        #expect(stopped.ends && stopped.outcome == .event(.stopped(.init(messageID: "m", status: "partial", finishReason: "partial",
                                                                         reason: "stopped"))))
        let refused = ChatSocketRouter.route(#"{"type":"error","request_id":"r4","error":{"status":409,"code":"session_busy","message":"busy"}}"#)
        #expect(refused == Routed(requestID: "r4", outcome: .failure(.server(status: 409, code: "session_busy", message: "busy", retryAfter: nil)), ends: true))
        let toolError = ChatSocketRouter.route(#"{"request_id":"r5","type":"tool_error","tool_call_id":"c","name":"t","error":"no"}"#)
        #expect(toolError.outcome == .event(.toolError(id: "c", name: "t", message: "no")) && !toolError.ends)
        #expect(ChatSocketRouter.route(#"{"type":"pong"}"#).requestID == nil)
    }

    @Test func routesToTheTurnAndEndsItOnce() async throws {
        let router = ChatSocketRouter()
        let (first, firstContinuation) = AsyncThrowingStream<ChatEvent, any Error>.makeStream()
        let (second, secondContinuation) = AsyncThrowingStream<ChatEvent, any Error>.makeStream()
        try router.open("a", firstContinuation)
        try router.open("b", secondContinuation)
        #expect(throws: ConfabClientError.self) { try router.open("a", AsyncThrowingStream<ChatEvent, any Error>.makeStream().continuation) }
        router.receive(#"{"request_id":"b","content":"for b"}"#)
        router.receive(#"{"request_id":"a","content":"for a"}"#)
        router.receive(#"{"type":"pong"}"#)
        router.receive(#"{"request_id":"a","type":"finish","message_id":"m","status":"complete"}"#)
        router.receive(#"{"request_id":"a","content":"late"}"#)
        var events: [ChatEvent] = []
        for try await event in first { events.append(event) }
        #expect(events == [.text("for a"), .finish(.init(messageID: "m", status: "complete", finishReason: "complete"))])

        router.close(reason: "gone")
        var rest: [ChatEvent] = []
        for try await event in second { rest.append(event) }
        #expect(rest == [.text("for b"), .interrupted(reason: "gone")])
        #expect(throws: ConfabClientError.unreachable("the socket is closed: gone")) {
            try router.open("c", AsyncThrowingStream<ChatEvent, any Error>.makeStream().continuation)
        }
    }

    @Test func aRefusalEndsTheTurnWithTheServersError() async throws {
        let router = ChatSocketRouter()
        let (stream, continuation) = AsyncThrowingStream<ChatEvent, any Error>.makeStream()
        try router.open(router.makeRequestID(), continuation)
        router.receive(#"{"type":"error","request_id":"r1","error":{"status":429,"code":"rate_limit_exceeded","message":"slow down","retry_after":3}}"#)
        await #expect(throws: ConfabClientError.server(status: 429, code: "rate_limit_exceeded", message: "slow down", retryAfter: 3)) {
            for try await _ in stream {}
        }
    }

    @Test func socketURLFollowsTheBaseURL() throws {
        #expect(try ConfabClient(baseURL: "http://127.0.0.1:8080/").webSocketURL("/chat/ws") == "ws://127.0.0.1:8080/chat/ws")
        #expect(try ConfabClient(baseURL: "https://confab.example").webSocketURL("/chat/ws") == "wss://confab.example/chat/ws")
        #expect(throws: ConfabClientError.self) { try ConfabClient(baseURL: "ftp://x").webSocketURL("/chat/ws") }
    }
}
