import Foundation
import Testing
import TestSupport
@testable import ConfabCore

/// Tool calls in a turn: the model asks, Confab runs the tools, the results go back to the
/// model, and the whole exchange streams as events and is stored inside the one reply.
extension TurnTests {
    static let seedQuestion = "Please find me an agent that can help me with my business. Use the query 'moneny printing agent'"

    /// The seed's second test, on the turn: a tool call is made, the turn ends, usage is recorded.
    @Test func aToolCallRunsAndItsResultGoesBackToTheModel() async throws {
        try await withFixture { f in
            let events = Events()
            let reply = try await f.begin(Self.seedQuestion, persona: "scout").run { events.append($0) }
            #expect(reply.status == .complete)
            let kinds = events.list.map(Self.kind)
            #expect(kinds == ["start", "step_start", "tool_input_start"] + Array(repeating: "tool_input_delta", count: kinds.count { $0 == "tool_input_delta" })
                + ["tool_input_available", "tool_output", "step_finish", "step_start", "text_start"]
                + Array(repeating: "text", count: kinds.count { $0 == "text" }) + ["text_end", "step_finish", "usage", "finish"], "\(kinds)")
            guard case .toolInputAvailable(let call, let input)? = events.list.first(where: { Self.kind($0) == "tool_input_available" }),
                  case .toolOutput(_, let output)? = events.list.first(where: { Self.kind($0) == "tool_output" }) else { return }
            #expect(call.name == "find_agents" && call.step == 1)
            #expect(input == ["query": "moneny printing agent"])
            let agents = output["agents"]?.array ?? []
            #expect(!agents.isEmpty && agents.allSatisfy { $0["id"]?.string != nil && $0["name"]?.string != nil })
            // The model was given the result and answered from it.
            #expect(events.text.hasPrefix("Tool results: "))
            #expect(events.text.contains("agents"))
            // Stored once, as parts: the call with its output, then the text.
            let stored = try #require(await f.store.history(user: "u1", session: f.session)?.last)
            #expect(stored == reply)
            guard case .tool(let part)? = stored.parts?.first, case .text(let text)? = stored.parts?.last else {
                Issue.record("parts \(String(describing: stored.parts))"); return
            }
            #expect(part.name == "find_agents" && part.output == output && part.error == nil)
            #expect(text == events.text && stored.content == events.text)
            // Usage over both model calls, as the upstream reported them.
            #expect((reply.usage?.totalTokens ?? 0) > 0 && reply.usage?.estimated == nil)
        }
    }

    @Test func parallelCallsRunAtOnceEvenWhenTheServerReusesIndexZero() async throws {
        for mode in ["parallel", "index0"] {
            try await withFixture { f in
                let events = Events()
                let reply = try await f.begin("[[tools=\(mode)]] pricing help", persona: "scout").run { events.append($0) }
                let calls = events.list.compactMap { if case .toolInputAvailable(let call, let input) = $0 { (call, input) } else { nil } }
                #expect(calls.map(\.0.name) == ["find_agents", "current_time"], "\(mode)")
                #expect(Set(calls.map(\.0.id)).count == 2, "\(mode): two distinct calls")
                #expect(calls.first?.1 == ["query": "pricing help"], "\(mode): arguments assembled from their fragments")
                #expect(events.list.count { if case .toolOutput = $0 { true } else { false } } == 2, "\(mode)")
                #expect(reply.parts?.count { $0.isTool } == 2)
                // The next model call was given both results, each under its own call id.
                let sent = try JSONSerialization.jsonObject(with: f.upstream.stats.lastRequest) as? [String: Any]
                let messages = sent?["messages"] as? [[String: Any]] ?? []
                #expect(messages.filter { $0["role"] as? String == "tool" }.compactMap { $0["tool_call_id"] as? String } == calls.map(\.0.id))
            }
        }
    }

    @Test(arguments: [
        ("[[tool=launch_rockets]] {}", "unknown tool 'launch_rockets'"),
        ("[[tool=find_agents]] [[args=raw]]", "the arguments are not a JSON object"),
        ("[[tool=current_time]] {\"timezone\":\"Mars/Olympus\"}", "unknown time zone"),
        ("[[tool=slow_tool]] {}", "did not answer within 300 ms"),
    ])
    func aToolThatFailsBecomesAToolErrorForTheModel(message: String, error: String) async throws {
        var scout = PersonaCatalog().persona("scout")!
        scout.tools.append("slow_tool")
        let personas = PersonaCatalog(personas: PersonaCatalog.builtIn.filter { $0.id != "scout" } + [scout])
        let tools = ToolRegistry.builtIn(agents: personas, fetcher: nil).adding(SlowTool())
        try await withFixture(personas: personas, tools: tools, toolTimeout: .milliseconds(300)) { f in
            let events = Events()
            let reply = try await f.begin(message, persona: "scout").run { events.append($0) }
            #expect(reply.status == .complete, "a failed tool never fails the turn")
            guard case .toolError(_, let told)? = events.list.first(where: { Self.kind($0) == "tool_error" }) else {
                Issue.record("no tool error in \(events.list.map(Self.kind))"); return
            }
            #expect(told.contains(error), "\(told)")
            #expect(events.text.hasPrefix("Tool results: error: "), "the model was told: \(events.text)")
            guard case .tool(let part)? = reply.parts?.first else { Issue.record("parts \(String(describing: reply.parts))"); return }
            #expect(part.error == told && part.output == nil)
        }
    }

    @Test func toolCallsStopAtTheStepLimit() async throws {
        try await withFixture(maxSteps: 1) { f in
            let reply = try await f.begin(Self.seedQuestion, persona: "scout").run { _ in }
            #expect(reply.parts == nil, "the only call is offered no tools, so the model answers in text")
            #expect(reply.content.hasPrefix("Echo: "))
        }
    }

    @Test func theNextPromptReplaysAStoredToolExchange() async throws {
        try await withFixture { f in
            try await f.begin(Self.seedQuestion, persona: "scout").run { _ in }
            try await f.begin("thanks", persona: "scout").run { _ in }
            let sent = try JSONSerialization.jsonObject(with: f.upstream.stats.lastRequest) as? [String: Any]
            let roles = (sent?["messages"] as? [[String: Any]] ?? []).map { $0["role"] as? String ?? "?" }
            #expect(roles == ["system", "user", "assistant", "tool", "assistant", "user"], "\(roles)")
        }
    }

    @Test func usageIsEstimatedWhenTheModelReportsNone() async throws {
        try await withFixture { f in
            let cut = try await f.begin("[[fault=cut]] one two three four").run { _ in }
            #expect(cut.usage?.estimated == true)
            #expect((cut.usage?.completionTokens ?? 0) > 0 && (cut.usage?.promptTokens ?? 0) > 0)
            let whole = try await f.begin("one two").run { _ in }
            #expect(whole.usage?.estimated == nil, "reported by the upstream")
            let session = try #require(await f.store.session(user: "u1", id: f.session))
            #expect(session.usage.totalTokens == (cut.usage?.totalTokens ?? 0) + (whole.usage?.totalTokens ?? 0))
        }
    }

    static func kind(_ event: StreamEvent) -> String {
        switch event {
        case .start: "start"
        case .stepStart: "step_start"
        case .textStart: "text_start"
        case .text: "text"
        case .textEnd: "text_end"
        case .reasoningStart: "reasoning_start"
        case .reasoning: "reasoning"
        case .reasoningEnd: "reasoning_end"
        case .toolInputStart: "tool_input_start"
        case .toolInputDelta: "tool_input_delta"
        case .toolInputAvailable: "tool_input_available"
        case .toolOutput: "tool_output"
        case .toolError: "tool_error"
        case .stepFinish: "step_finish"
        case .usage: "usage"
        case .keepAlive: "keep_alive"
        case .finish: "finish"
        case .error: "error"
        }
    }
}

/// A tool that never answers in time.
struct SlowTool: Tool {
    let spec = ToolSpec(name: "slow_tool", description: "sleeps", parameters: ["type": "object"])

    func call(_ input: JSONValue, context: ToolContext) async throws -> JSONValue {
        try await Task.sleep(for: .seconds(30))
        return "late"
    }
}

extension TurnTests {
    /// `reasoning_content` streams as its own part, before the text, and is stored with the reply.
    @Test func reasoningIsAPartOfItsOwn() async throws {
        try await withFixture { f in
            let events = Events()
            let reply = try await f.begin("[[reasoning=first think hard]] hi").run { events.append($0) }
            let kinds = events.list.map(Self.kind)
            #expect(kinds.prefix(4) == ["start", "step_start", "reasoning_start", "reasoning"], "\(kinds)")
            #expect(kinds.firstIndex(of: "reasoning_end")! < kinds.firstIndex(of: "text_start")!)
            #expect(reply.parts == [.reasoning("first think hard"), .text("Echo: hi")])
            #expect(reply.content == "Echo: hi", "reasoning is not reply text")
        }
    }

    /// A stored reply goes into the prompt whole or not at all: a tool call is never sent
    /// without its result, whatever the budget.
    @Test func theWindowNeverSplitsAToolExchange() {
        let exchange = ChatMessage(role: .assistant, content: "Found it.", timestamp: 2, parts: [
            .text("Let me look."), .tool(.init(callID: "c1", name: "find_agents", input: ["query": "x"], output: ["agents": []])),
            .text("Found it."),
        ])
        let question = ChatMessage(role: .user, content: "find x", timestamp: 1)
        let persona = PersonaCatalog().persona("scout")!
        let history = [exchange, question]  // newest first
        let roomy = PromptBuilder(window: 20, characterBudget: 10_000).prompt(persona: persona, history: history, message: "next")
        #expect(roomy.map(\.role) == ["system", "user", "assistant", "tool", "assistant", "user"])
        #expect(roomy[2].toolCalls?.first?.id == "c1" && roomy[2].content == "Let me look.")
        #expect(roomy[3].toolCallID == "c1" && roomy[3].content == #"{"agents":[]}"#)
        // A budget with room for the closing text but not the whole exchange: none of it goes.
        let tight = persona.systemPrompt.count + "next".count + 30
        let cut = PromptBuilder(window: 20, characterBudget: tight).prompt(persona: persona, history: history, message: "next")
        #expect(cut.map(\.role) == ["system", "user"], "\(cut.map(\.role))")
    }
}

extension TurnTests {
    /// A shutdown while a tool runs ends the turn at once (the tool is cancelled), stores the
    /// partial with reason shutdown and tells the client.
    @Test func aShutdownStopsARunningTool() async throws {
        var scout = PersonaCatalog().persona("scout")!
        scout.tools.append("slow_tool")
        let personas = PersonaCatalog(personas: PersonaCatalog.builtIn.filter { $0.id != "scout" } + [scout])
        try await withFixture(personas: personas, tools: ToolRegistry.builtIn(agents: personas, fetcher: nil).adding(SlowTool()),
                              toolTimeout: .seconds(60)) { f in
            let events = Events()
            let turn = try await f.begin("[[tool=slow_tool]] {}", persona: "scout")
            let running = Task { await turn.run { events.append($0) } }
            for _ in 0..<500 where !events.list.contains(where: { Self.kind($0) == "tool_input_available" }) {
                try await Task.sleep(for: .milliseconds(10))
            }
            let asked = ContinuousClock.now
            await f.environment.activeTurns.shutdown()
            let reply = await running.value
            #expect(ContinuousClock.now - asked < .seconds(5), "not after the tool's 30 s")
            #expect(reply.status == .partial && reply.reason == "shutdown")
            guard case .error(let info, _)? = events.list.last else { Issue.record("\(events.list.map(Self.kind))"); return }
            #expect(info.code == "shutdown")
            #expect(await f.store.history(user: "u1", session: f.session)?.last?.reason == "shutdown")
        }
    }
}
