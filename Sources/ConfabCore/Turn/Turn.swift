import Foundation
import Logging
import Synchronization

/// What a turn depends on: where conversations are kept, the model, the personas, the settings.
/// A class, so that each async frame of a streaming turn holds a pointer to it, not ~300 bytes
/// (2,000 open streams keep their frames alive: docs/PERFORMANCE.md).
public final class TurnEnvironment: Sendable {
    public let store: any ConversationStore
    public let model: any ChatModel
    public let personas: PersonaCatalog
    /// What users' agents are made from (the personas and more).
    public let templates: AgentTemplateCatalog
    public let tools: ToolRegistry
    public let settings: TurnSettings
    public let activeTurns: ActiveTurns
    public let metrics: TurnMetrics
    public let logger: Logger

    public init(store: any ConversationStore, model: any ChatModel, personas: PersonaCatalog, tools: ToolRegistry? = nil,
                settings: TurnSettings, activeTurns: ActiveTurns, metrics: TurnMetrics = TurnMetrics(), logger: Logger) {
        self.store = store
        self.model = model
        self.personas = personas
        self.templates = AgentTemplateCatalog(personas: personas)
        self.tools = tools ?? .builtIn(agents: personas, fetcher: nil)
        self.settings = settings
        self.activeTurns = activeTurns
        self.metrics = metrics
        self.logger = logger
    }
}

extension TurnEnvironment {
    /// The persona a turn plays: the user's agent when the session has one (as the store read
    /// it, with its template; a template that is gone falls back to the default persona's),
    /// else the named persona, else the default.
    public func persona(_ id: String?, agent: Agent?) -> Persona {
        if let agent {
            return agent.persona(from: templates.template(agent.templateID) ?? templates.template(personas.defaultID)!)
        }
        return personas.persona(id) ?? personas.persona(nil)!
    }
}

/// Why a turn was refused before anything streamed. Nothing was written.
public enum TurnRefusal: Error, Sendable, Equatable {
    case unknownPersona(String)
    case unknownAgent
    case unknownSession
    /// The caller has the most streams open its limits allow.
    case streamLimit(Int)
    case sessionLimit
    case busy
    case shuttingDown
    case storeUnavailable(String)
}

/// One chat turn, the one place it lives: the user's message stored, the prompt built, the
/// reply streamed to the client, and the reply stored exactly once however the stream ends.
///
/// `begin` does the first Redis round trip before any byte reaches the client, so a refusal is
/// a plain HTTP error; `run` streams and does the second round trip. A class for the same
/// reason as `TurnEnvironment`.
public final class Turn: Sendable {
    public let user: String
    public let session: String
    public let persona: Persona
    public let userMessage: ChatMessage
    public let replyID: String
    let prompt: [PromptMessage]
    /// The tools the model is offered: the persona's, run here, or the client's own.
    let tools: [ToolSpec]
    /// The tools are the client's (an OpenAI-compatible caller declared them): the model's calls
    /// end the turn and go back to the client, which runs them, as OpenAI's API does.
    public let toolsRunByClient: Bool
    /// False for a turn the client keeps no session of (a stateless completion): nothing is stored.
    public let stored: Bool
    let lockToken: String
    /// The caller's meters: the turn's stream slots are freed and its tokens counted when it is stored.
    let quota: TurnQuota
    let capture: DebugCapture?
    let environment: TurnEnvironment
    /// Ends a begun turn that is never run (the client left before the response head went out):
    /// called when the turn goes away without `run`.
    private let abandon: @Sendable () -> Void
    private let ran = Atomic<Bool>(false)
    /// Reaches the running model call from outside: a shutdown, a deadline, the client's stop.
    private let stopper = Stopper()

    private init(user: String, session: String, persona: Persona, userMessage: ChatMessage, replyID: String,
                 prompt: [PromptMessage], clientTools: [ToolSpec], stored: Bool, lockToken: String, quota: TurnQuota,
                 capture: DebugCapture?, environment: TurnEnvironment, abandon: @escaping @Sendable () -> Void) {
        self.user = user
        self.session = session
        self.persona = persona
        self.userMessage = userMessage
        self.replyID = replyID
        self.prompt = prompt
        self.tools = clientTools.isEmpty ? environment.tools.specs(for: persona) : clientTools
        self.toolsRunByClient = !clientTools.isEmpty
        self.stored = stored
        self.lockToken = lockToken
        self.quota = quota
        self.capture = capture
        self.environment = environment
        self.abandon = abandon
    }

    deinit {
        if !ran.load(ordering: .relaxed) { abandon() }
    }

    /// Round trip 1: checks the session, takes its lock, reads the history window and stores the
    /// user message, atomically.
    /// With `createSession`, a session that does not exist yet is made (within `maxSessions`):
    /// the AI SDK's chat id is made up by the client.
    /// `personaID` may name one of the user's agents (`agt_…`): the store checks it is theirs.
    /// `quota` holds the caller's stream limits, checked in the same round trip.
    /// `prompt` says where the earlier messages come from: the stored window (Confab keeps the
    /// history), or the client, which sent them all (then the window is not read, and only the new
    /// message and the reply are stored, so nothing counts twice). `clientTools` are tools the
    /// client runs itself. `earlier` are turns the client brings along, stored with its message.
    public static func begin(user: String, session: String, personaID: String?, message: String,
                             prompt input: TurnPrompt = .history(), earlier: [ChatMessage] = [], clientTools: [ToolSpec] = [],
                             temperature: Double? = nil,
                             createSession: Bool = false, maxSessions: Int = .max, quota: TurnQuota = TurnQuota(),
                             in environment: TurnEnvironment) async throws(TurnRefusal) -> Turn {
        // No persona asked for: the session's own (learnt in the same round trip), else the default.
        let asked = personaID.flatMap { $0.isEmpty ? nil : $0 }
        if let asked, !asked.hasPrefix(Agent.idPrefix), environment.personas.persona(asked) == nil { throw .unknownPersona(asked) }
        guard !environment.activeTurns.isShuttingDown else { throw .shuttingDown }
        let userMessage = ChatMessage(role: .user, content: message, timestamp: Date().timeIntervalSince1970, persona: asked)
        let lockToken = UUID().uuidString
        let start = TurnStart(user: user, session: session, persona: asked ?? "", message: userMessage,
                              window: input.readsHistory ? environment.settings.prompt.window : 0, lockToken: lockToken,
                              lockMilliseconds: environment.settings.lockMilliseconds,
                              createIfMissing: createSession, maxSessions: maxSessions,
                              defaultPersona: environment.personas.defaultID, quota: quota, earlier: earlier)
        let result: TurnStartResult
        do {
            result = try await environment.store.beginTurn(start)
        } catch {
            throw .storeUnavailable("\(error)")
        }
        switch result {
        case .unknownSession: throw .unknownSession
        case .sessionLimit: throw .sessionLimit
        case .busy: throw .busy
        case .unknownAgent: throw .unknownAgent
        case .streamLimit(let limit): throw .streamLimit(limit)
        case .started(let window, let sessionPersona, let agent):
            var persona = environment.persona(asked ?? sessionPersona, agent: agent)
            if let temperature { persona.temperature = temperature }  // the client's, for this turn
            let prompt = input.messages(persona: persona, history: earlier.reversed() + window, message: message,
                                        builder: environment.settings.prompt)
            let replyID = UUID().uuidString.lowercased()
            // If `run` never happens, an empty partial reply is stored and the session's lock freed.
            var abandoned = reply(id: replyID, text: "", persona: persona, in: environment)
            abandoned.status = .partial
            abandoned.reason = "client_disconnected"
            let finish = TurnFinish(user: user, session: session, reply: abandoned, lockToken: lockToken, debugCapture: nil, quota: quota)
            let (store, metrics) = (environment.store, environment.metrics)
            return Turn(user: user, session: session, persona: persona, userMessage: userMessage, replyID: replyID,
                        prompt: prompt, clientTools: clientTools, stored: true, lockToken: lockToken, quota: quota,
                        capture: environment.settings.debugCapture ? DebugCapture() : nil, environment: environment,
                        abandon: {
                            metrics.ended(.partial)
                            Task { try? await store.finishTurn(finish) }
                        })
        }
    }

    /// A turn kept nowhere: a stateless completion whose client sends the whole conversation and
    /// asked for nothing to be stored. It takes no session lock and stores no message, but a
    /// caller with limits still takes its stream slots first and counts its tokens at the end
    /// (a round trip each), so keeping nothing is no way around them. It runs and ends like any
    /// other turn, so the client sees the same events.
    public static func unstored(user: String, persona: Persona, prompt messages: [PromptMessage], clientTools: [ToolSpec] = [],
                                quota: TurnQuota = TurnQuota(), in environment: TurnEnvironment) async throws(TurnRefusal) -> Turn {
        guard !environment.activeTurns.isShuttingDown else { throw .shuttingDown }
        let token = UUID().uuidString
        let store = environment.store
        if !quota.scopes.isEmpty {
            let full: Int?
            do {
                full = try await store.takeStreamSlots(user: user, quota: quota, token: token,
                                                       milliseconds: environment.settings.lockMilliseconds, now: Date().timeIntervalSince1970)
            } catch {
                throw .storeUnavailable("\(error)")
            }
            if let full { throw .streamLimit(full) }
        }
        let message = messages.last(where: { $0.role == "user" })?.content ?? ""
        let prompt = TurnPrompt.given(messages).messages(persona: persona, history: [], message: message, builder: environment.settings.prompt)
        return Turn(user: user, session: "", persona: persona,
                    userMessage: ChatMessage(role: .user, content: message, timestamp: Date().timeIntervalSince1970, persona: persona.id),
                    replyID: UUID().uuidString.lowercased(), prompt: prompt, clientTools: clientTools, stored: false,
                    lockToken: token, quota: quota, capture: nil, environment: environment, abandon: { [metrics = environment.metrics] in
                        metrics.ended(.partial)
                        guard !quota.scopes.isEmpty else { return }
                        Task { try? await store.releaseStreamSlots(user: user, quota: quota, token: token, tokens: 0,
                                                                   now: Date().timeIntervalSince1970) }
                    })
    }

    /// Streams the reply through `emit` and stores it. Ends in one of five ways:
    /// complete; error (the model failed: the client gets an error event); partial with reason
    /// `client_disconnected` (emit threw or the task was cancelled); partial with reason
    /// `stopped` (the client asked: `stop()`); partial with reason `shutdown`.
    @discardableResult
    public func run(emit: (StreamEvent) async throws -> Void) async -> ChatMessage {
        ran.store(true, ordering: .relaxed)
        let started = ContinuousClock.now
        let stopper = self.stopper
        var draft = ReplyDraft(messageID: replyID)
        guard let registration = environment.activeTurns.register(stop: { stopper.stop(TurnStop.shutdown) }) else {
            return await end(draft, outcome: .shutdown, started: started, emit: emit)
        }
        defer { environment.activeTurns.remove(registration) }

        let metrics = environment.metrics
        metrics.activeStreams.increment()
        defer { metrics.activeStreams.decrement() }

        let outcome: Outcome
        do {
            try await emit(.start(sessionID: session, messageID: replyID, userMessageID: userMessage.id))
            // One set of deadlines for the whole turn, however many model calls it makes.
            let deadlines = Deadlines(environment.settings)
            deadlines.start(keepAlive: { stopper.keepAlive() }, expired: { stopper.stop(ModelError.timeout($0)) })
            defer { deadlines.stop() }
            outcome = .complete(try await steps(&draft, stopper: stopper, deadlines: deadlines, started: started, emit: emit))
        } catch let error as ModelError {
            outcome = .failed(error)
        } catch TurnStop.shutdown {
            outcome = .shutdown
        } catch TurnStop.byClient {
            outcome = .stopped
        } catch TurnStop.clientLeft {
            outcome = .clientLeft
        } catch {
            outcome = .clientLeft  // the client's connection closed: a write failed or we were cancelled
        }
        return await end(draft, outcome: outcome, started: started, emit: emit)
    }

    /// Ends the running turn as the client asked: the partial reply is stored (reason `stopped`)
    /// and the stream ends with it, as a finish with status `partial`. A no-op once it has ended.
    public func stop() {
        stopper.stop(TurnStop.byClient)
    }

    /// Ends the running turn because its client has gone: the partial reply is stored (reason
    /// `client_disconnected`) and nothing more is sent. A no-op once it has ended.
    func clientLeft() {
        stopper.stop(TurnStop.clientLeft)
    }

    // MARK: - Steps

    private enum Outcome {
        case complete(ModelCompletion)
        case failed(ModelError)
        case clientLeft
        /// The client asked for the turn to end (`stop`); it still hears the ending.
        case stopped
        case shutdown
    }

    /// The model calls of a turn: each streams its text; when it asks for tools, they run (in
    /// parallel), their results join the prompt and the model is called again, up to
    /// `maxSteps` (the last call is offered no tools, so it must answer).
    private func steps(_ draft: inout ReplyDraft, stopper: Stopper, deadlines: Deadlines, started: ContinuousClock.Instant,
                       emit: (StreamEvent) async throws -> Void) async throws -> ModelCompletion {
        var prompt = self.prompt
        while true {
            try await emit(draft.beginStep())
            let offered = draft.step < environment.settings.maxSteps ? tools : []
            let promptCharacters = prompt.reduce(0) { $0 + $1.size }
            let completion: ModelCompletion
            do {
                completion = try await streamModel(prompt, tools: offered, stopper: stopper, deadlines: deadlines,
                                                   keepAlive: { try await emit(.keepAlive) }) { delta in
                    try await draft.relay(delta, since: started, send: emit)
                }
                try await draft.closeParts(send: emit)
            } catch {
                draft.abandonStep(promptCharacters: promptCharacters)
                throw error
            }
            draft.countUsage(completion.usage, promptCharacters: promptCharacters)
            // No tools were offered at the last step: calls the model makes anyway are not run,
            // so a model that keeps asking cannot keep the turn going.
            guard !completion.toolCalls.isEmpty, !offered.isEmpty else {
                try await draft.finishStep(reason: completion.finishReason, send: emit)
                return completion
            }
            let calls = draft.uniqueCalls(completion.toolCalls, limit: Self.callsPerStep)
            if toolsRunByClient {
                // The client runs its own tools: the calls are the reply, as OpenAI's API answers.
                for call in calls {
                    try await emit(.toolInputAvailable(ToolCallHeader(id: call.id, name: call.name, step: draft.step), input: call.input))
                    draft.recordClientCall(call)
                }
                try await draft.finishStep(reason: completion.finishReason, send: emit)
                return completion
            }
            let stepText = draft.stepText
            deadlines.tick()
            try await runTools(calls, offered: offered, stopper: stopper, draft: &draft, emit: emit)
            deadlines.tick()  // the tools took their time; the model's silence starts now
            try await draft.finishStep(reason: completion.finishReason, send: emit)
            prompt.append(PromptMessage(role: "assistant", content: stepText.isEmpty ? nil : stepText,
                                        toolCalls: calls.map { ToolCall(id: $0.id, name: $0.name, arguments: $0.input.argumentsText) }))
            prompt += draft.toolResults(for: calls.map(\.id))
        }
    }

    /// Tool calls run per step at most; more become tool errors (a model cannot fan out without bound).
    static let callsPerStep = 8

    /// Runs a step's tool calls at once, each within the tool deadline; tells the client each
    /// call and each result as it comes, and records them in the reply. A shutdown or an expired
    /// turn deadline stops the tools too.
    private func runTools(_ calls: [ReplyDraft.Call], offered: [ToolSpec], stopper: Stopper, draft: inout ReplyDraft,
                          emit: (StreamEvent) async throws -> Void) async throws {
        for call in calls {
            try await emit(.toolInputAvailable(ToolCallHeader(id: call.id, name: call.name, step: draft.step), input: call.input))
        }
        let (registry, context, deadline) = (environment.tools, ToolContext(user: user), environment.settings.toolTimeout)
        var outcomes: [String: ToolOutcome] = [:]
        defer {
            for call in calls {
                draft.recordTool(call, outcome: outcomes[call.id] ?? .failure("the turn ended before the tool answered"))
            }
        }
        let stopped = PieceQueue()
        stopper.attach(stopped)
        try await withThrowingTaskGroup(of: (String, ToolOutcome)?.self) { group in
            group.addTask {
                while try await !stopped.next().isEmpty {}  // keep-alives: tools are shorter than the interval
                return nil  // the tools finished first
            }
            for call in calls {
                group.addTask {
                    if let refused = call.refusal { return (call.id, .failure(refused)) }
                    return (call.id, await registry.run(call.toolCall, offered: offered, context: context, deadline: deadline))
                }
            }
            var left = calls.count
            while left > 0, let next = try await group.next() {
                guard let (id, outcome) = next else { continue }
                left -= 1
                outcomes[id] = outcome
                switch outcome {
                case .output(let output): try await emit(.toolOutput(callID: id, output: output))
                case .failure(let message): try await emit(.toolError(callID: id, message: message))
                }
            }
            group.cancelAll()
        }
    }

    /// Runs one model call in a child task so deadlines and a shutdown can stop it; pieces come
    /// back through a `PieceQueue` and are handed to `forward` in this task, which owns the client.
    /// While the model is silent, the deadline timer sends a keep-alive now and then so proxies
    /// keep the stream open.
    private func streamModel(_ prompt: [PromptMessage], tools: [ToolSpec], stopper: Stopper, deadlines: Deadlines,
                             keepAlive: () async throws -> Void,
                             forward: (ModelDelta) async throws -> Void) async throws -> ModelCompletion {
        let pieces = PieceQueue()
        stopper.attach(pieces)
        let (capture, model, choice) = (capture, environment.model, ModelChoice(model: persona.model, temperature: persona.temperature))
        return try await withThrowingTaskGroup(of: Void.self) { group in
            defer { group.cancelAll() }
            group.addTask {
                do {
                    let completion = try await model.streamReply(to: prompt, tools: tools, choice: choice, capture: capture) { delta in
                        deadlines.tick()
                        pieces.yield(.delta(delta))
                    }
                    pieces.yield(.done(completion))
                    pieces.finish()
                } catch {
                    pieces.finish(throwing: error)
                }
            }
            while true {
                let batch = try await pieces.next()
                if batch.isEmpty { throw CancellationError() }  // ended with no result: this task was cancelled
                for piece in batch {
                    switch piece {
                    case .delta(let delta): try await forward(delta)
                    case .keepAlive: try await keepAlive()
                    case .done(let completion): return completion
                    }
                }
            }
        }
    }

    /// Round trip 2: stores the reply exactly once, then tells the client how it ended.
    private func end(_ draft: ReplyDraft, outcome: Outcome, started: ContinuousClock.Instant,
                     emit: (StreamEvent) async throws -> Void) async -> ChatMessage {
        var reply = Self.reply(id: replyID, text: draft.text, persona: persona, in: environment)
        reply.parts = draft.storedParts
        reply.usage = draft.usage ?? Usage.estimate(promptCharacters: prompt.reduce(0) { $0 + $1.size }, completionCharacters: 0)
        var failure: ErrorInfo?
        switch outcome {
        case .complete(let completion):
            reply.finishReason = completion.finishReason
        case .failed(let error):
            reply.status = .error
            reply.error = error.info
            reply.finishReason = "error"
            failure = error.info
        case .clientLeft:
            reply.status = .partial
            reply.reason = "client_disconnected"
        case .stopped:
            reply.status = .partial
            reply.reason = "stopped"
        case .shutdown:
            reply.status = .partial
            reply.reason = "shutdown"
            failure = ErrorInfo(message: "the service is shutting down; the partial reply was saved",
                                type: "service_unavailable", code: "shutdown")
        }
        let finish = TurnFinish(user: user, session: session, reply: reply, lockToken: lockToken, debugCapture: capture?.json(),
                                quota: quota)
        if stored, let storeError = await persist({ try await $0.finishTurn(finish) }) {
            failure = failure ?? ErrorInfo(message: "the reply could not be saved: \(storeError)", type: "storage_error", code: "store_unavailable")
        } else if !stored, !quota.scopes.isEmpty {
            // Nothing to keep, but the slots are freed and the tokens counted.
            let (user, quota, token, tokens) = (user, quota, lockToken, reply.usage?.totalTokens ?? 0)
            _ = await persist { try await $0.releaseStreamSlots(user: user, quota: quota, token: token, tokens: tokens, now: Date().timeIntervalSince1970) }
        }
        TurnReport(session: session, persona: persona.id, model: reply.model ?? environment.model.name, reply: reply,
                   firstToken: draft.firstToken, duration: ContinuousClock.now - started, pieces: draft.pieces)
            .record(environment.metrics, logger: environment.logger)
        if case .clientLeft = outcome { return reply }
        let ending = TurnEnding(messageID: reply.id, status: reply.status, finishReason: reply.finishReason,
                                usage: reply.usage, reason: reply.reason)
        if failure != nil { for event in draft.closingEvents { try? await emit(event) } }
        if let usage = reply.usage { try? await emit(.usage(usage)) }
        try? await emit(failure.map { .error($0, ending) } ?? .finish(ending))
        return reply
    }

    private static func reply(id: String, text: String, persona: Persona, in environment: TurnEnvironment) -> ChatMessage {
        ChatMessage(id: id, role: .assistant, content: text, timestamp: Date().timeIntervalSince1970,
                    persona: persona.id, model: persona.model ?? environment.model.name)
    }

    /// Runs the turn's last store step in a task of its own, so a cancelled request (the client
    /// left) still saves its partial reply; retries for ~2 s (4 tries) so a Redis restart does
    /// not lose a finished reply.
    private func persist(_ step: @escaping @Sendable (any ConversationStore) async throws -> Void) async -> Error? {
        let store = environment.store
        let logger = environment.logger
        return await Task {
            var lastError: Error?
            for attempt in 0..<4 {
                do {
                    try await step(store)
                    return nil
                } catch {
                    lastError = error
                    logger.warning("storing a reply failed", metadata: ["attempt": "\(attempt + 1)", "error": "\(error)"])
                    if attempt < 3 { try? await Task.sleep(for: .milliseconds(250 << attempt)) }
                }
            }
            return lastError
        }.value
    }
}

/// What a model call's child task hands the turn's task.
enum Piece: Sendable {
    case delta(ModelDelta)
    case keepAlive
    case done(ModelCompletion)
}
