import AsyncHTTPClient
import Foundation
import Logging
import Synchronization
import Testing
import TestSupport
import TestUpstream
@testable import ConfabCore

/// The turn logic against the in-memory store and the test upstream over real HTTP.
@Suite struct TurnTests {
    struct Fixture {
        let store: InMemoryConversationStore
        let environment: TurnEnvironment
        let upstream: TestUpstream
        let session: String

        func begin(_ message: String, persona: String? = nil) async throws -> Turn {
            try await Turn.begin(user: "u1", session: session, personaID: persona, message: message, in: environment)
        }
    }

    func withFixture(firstToken: Duration = .seconds(5), idle: Duration = .seconds(5), total: Duration = .seconds(20),
                     upstream options: TestUpstream.Options = .init(), personas: PersonaCatalog = PersonaCatalog(),
                     tools: ToolRegistry? = nil, maxSteps: Int = 5, toolTimeout: Duration = .seconds(10),
                     _ body: (Fixture) async throws -> Void) async throws {
        try await UpstreamServer.run(options: options) { baseURL, upstream in
            let client = HTTPClient(eventLoopGroupProvider: .singleton)
            let model = OpenAIChatModel(client: client, configuration: .init(
                baseURL: baseURL, apiKey: "test-key", model: "test-model", maxTokens: nil, headTimeoutSeconds: 5))
            let settings = TurnSettings(prompt: PromptBuilder(window: 20, characterBudget: 10_000), firstTokenTimeout: firstToken,
                                        idleTimeout: idle, totalTimeout: total, debugCapture: true, maxSteps: maxSteps,
                                        toolTimeout: toolTimeout)
            let store = InMemoryConversationStore()
            let session = await store.createSession(user: "u1", persona: "assistant", now: 1)!.id
            let environment = TurnEnvironment(store: store, model: model, personas: personas, tools: tools, settings: settings,
                                              activeTurns: ActiveTurns(), logger: Logger(label: "test"))
            do {
                try await body(Fixture(store: store, environment: environment, upstream: upstream, session: session))
            } catch {
                try await client.shutdown()
                throw error
            }
            try await client.shutdown()
        }
    }

    /// Collects what the client would have seen.
    final class Events: Sendable {
        let all = Mutex<[StreamEvent]>([])
        var list: [StreamEvent] { all.withLock { $0 } }
        var text: String { list.compactMap { if case .text(let t) = $0 { t } else { nil } }.joined() }
        func append(_ event: StreamEvent) { all.withLock { $0.append(event) } }
    }

    @Test func completeReplyIsStreamedAndStoredOnce() async throws {
        try await withFixture { f in
            let events = Events()
            let reply = try await f.begin("hello world").run { events.append($0) }
            #expect(events.text == "Echo: hello world")
            guard case .start = events.list.first, case .finish(let ending) = events.list.last else {
                Issue.record("events were \(events.list)"); return
            }
            #expect(ending.status == .complete && ending.finishReason == "stop" && ending.usage?.completionTokens == 3)
            let history = try #require(await f.store.history(user: "u1", session: f.session))
            #expect(history.map(\.content) == ["hello world", "Echo: hello world"])
            #expect(history.last == reply)
            #expect(await f.store.debugCapture(user: "u1", messageID: reply.id)?.contains("[DONE]") == true)
        }
    }

    @Test func promptCarriesPersonaAndHistory() async throws {
        try await withFixture { f in
            try await f.begin("first").run { _ in }
            try await f.begin("second", persona: "programmer").run { _ in }
            let sent = try JSONSerialization.jsonObject(with: f.upstream.stats.lastRequest) as! [String: Any]
            let messages = (sent["messages"] as! [[String: String]]).map { $0["content"]! }
            #expect(messages == [PersonaCatalog().persona("programmer")!.systemPrompt, "first", "Echo: first", "second"])
            #expect(sent["stream"] as? Bool == true)
        }
    }

    @Test(arguments: [
        ("[[fault=http500]]", "upstream_http_500"), ("[[fault=http401]]", "upstream_http_401"),
        ("[[fault=http429]]", "upstream_http_429"), ("[[fault=error-event]] a b c d", "upstream_stream_error"),
        ("[[fault=vllm-error]] a b c d", "upstream_stream_error"), ("[[fault=cut]] a b c d", "upstream_interrupted"),
    ])
    func modelFailureStoresPartialWithError(message: String, code: String) async throws {
        try await withFixture { f in
            let events = Events()
            let reply = try await f.begin(message).run { events.append($0) }
            #expect(reply.status == .error)
            #expect(reply.error?.code == code)
            #expect(reply.content == events.text)
            guard case .error(let info, _) = events.list.last else { Issue.record("last event \(String(describing: events.list.last))"); return }
            #expect(info.code == code)
            #expect(await f.store.history(user: "u1", session: f.session)?.last?.status == .error)
        }
    }

    @Test func hangsEndAtTheirDeadlines() async throws {
        try await withFixture(firstToken: .seconds(1)) { f in
            let first = try await f.begin("[[fault=hang-first]]").run { _ in }
            #expect(first.error?.code == "upstream_timeout_first_token")
            #expect(await f.upstream.stats.becomesIdle(), "the hung upstream request was closed")
        }
        try await withFixture(firstToken: .seconds(30), idle: .seconds(1)) { f in
            let started = ContinuousClock.now
            let mid = try await f.begin("[[fault=hang-mid]] one two three four").run { _ in }
            #expect(mid.error?.code == "upstream_timeout_idle")
            // Not at the next keep-alive (15 s) nor the first-token deadline: the first piece
            // brought the idle deadline forward.
            #expect(ContinuousClock.now - started < .seconds(10), "the 1 s idle deadline is kept, whatever the first-token one")
            #expect(mid.content == "Echo: one")
            #expect(await f.upstream.stats.becomesIdle(), "the hung upstream requests were closed")
        }
    }

    @Test func totalDeadlineCutsASlowReply() async throws {
        try await withFixture(total: .milliseconds(1500)) { f in
            let reply = try await f.begin("[[tokens=100]] [[delay=20]] slow").run { _ in }
            #expect(reply.error?.code == "upstream_timeout_total")
            #expect(!reply.content.isEmpty)
        }
    }

    @Test func clientLeavingStoresPartial() async throws {
        try await withFixture { f in
            struct Gone: Error {}
            let count = Mutex(0)
            let reply = try await f.begin("[[tokens=50]] [[delay=10]] go").run { event in
                if case .text = event, count.withLock({ $0 += 1; return $0 }) == 3 { throw Gone() }
            }
            #expect(reply.status == .partial && reply.reason == "client_disconnected")
            #expect(reply.content == "Echo: go word1")
            #expect(await f.upstream.stats.becomesIdle())
            #expect(await f.store.history(user: "u1", session: f.session)?.last?.reason == "client_disconnected")
        }
    }

    /// Model servers close kept connections after a while idle (uvicorn: 5 s). A turn that finds
    /// its pooled connection closed, even just as it sends, still gets its reply.
    @Test func aKeptConnectionTheServerClosedIsNotAFailure() async throws {
        try await withFixture(upstream: .init(keepAliveMS: 20)) { f in
            for pause in [0, 40, 18, 19, 20, 21, 22, 25, 60] {
                try await Task.sleep(for: .milliseconds(pause))
                let reply = try await f.begin("after \(pause) ms").run { _ in }
                #expect(reply.status == .complete, "after \(pause) ms idle: \(String(describing: reply.error))")
                #expect(reply.content == "Echo: after \(pause) ms")
            }
        }
    }

    /// The client left after the user message was stored but before the response head went out:
    /// the turn is dropped unrun, and still stores an (empty) partial reply and frees the session.
    @Test func aTurnNeverRunStillEndsItsSession() async throws {
        try await withFixture { f in
            _ = try await f.begin("anyone there?")
            var history: [ChatMessage] = []
            for _ in 0..<100 where history.count < 2 {
                history = await f.store.history(user: "u1", session: f.session) ?? []
                if history.count < 2 { try await Task.sleep(for: .milliseconds(10)) }
            }
            #expect(history.map(\.role) == [.user, .assistant])
            #expect(history.last?.status == .partial && history.last?.reason == "client_disconnected")
            let next = try await f.begin("and now?").run { _ in }
            #expect(next.status == .complete, "the session's lock was freed")
        }
    }

    @Test func shutdownStoresPartialAndTellsTheClient() async throws {
        try await withFixture { f in
            let events = Events()
            let turn = try await f.begin("[[tokens=200]] [[delay=10]] long")
            async let reply = turn.run { events.append($0) }
            for _ in 0..<500 where !events.list.contains(where: { if case .text = $0 { true } else { false } }) {
                try await Task.sleep(for: .milliseconds(10))
            }
            await f.environment.activeTurns.shutdown()
            let stored = await reply
            #expect(stored.status == .partial && stored.reason == "shutdown")
            guard case .error(let info, _) = events.list.last else { Issue.record("no error event"); return }
            #expect(info.code == "shutdown")
            await #expect(throws: TurnRefusal.shuttingDown) { try await f.begin("after") }
        }
    }

    @Test func secondTurnOnABusySessionIsRefused() async throws {
        try await withFixture { f in
            let turn = try await f.begin("[[tokens=20]] [[delay=10]] one")
            await #expect(throws: TurnRefusal.busy) { try await f.begin("two") }
            await turn.run { _ in }
            _ = try await f.begin("three")
        }
    }

    @Test func aTurnThatNeverRunsFreesItsSession() async throws {
        try await withFixture { f in
            do { _ = try await f.begin("the client left before the head went out") }
            var history: [ChatMessage] = []
            for _ in 0..<100 where history.count < 2 {
                try await Task.sleep(for: .milliseconds(10))
                history = await f.store.history(user: "u1", session: f.session) ?? []
            }
            #expect(history.last?.role == .assistant)
            #expect(history.last?.status == .partial && history.last?.reason == "client_disconnected")
            _ = try await f.begin("the session is free again")
        }
    }
}
