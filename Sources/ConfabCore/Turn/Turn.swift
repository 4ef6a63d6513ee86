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
    public let settings: TurnSettings
    public let activeTurns: ActiveTurns
    public let metrics: TurnMetrics
    public let logger: Logger

    public init(store: any ConversationStore, model: any ChatModel, personas: PersonaCatalog, settings: TurnSettings,
                activeTurns: ActiveTurns, metrics: TurnMetrics = TurnMetrics(), logger: Logger) {
        self.store = store
        self.model = model
        self.personas = personas
        self.settings = settings
        self.activeTurns = activeTurns
        self.metrics = metrics
        self.logger = logger
    }
}

/// Why a turn was refused before anything streamed. Nothing was written.
public enum TurnRefusal: Error, Sendable, Equatable {
    case unknownPersona(String)
    case unknownSession
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
    let lockToken: String
    let capture: DebugCapture?
    let environment: TurnEnvironment
    /// Ends a begun turn that is never run (the client left before the response head went out):
    /// called when the turn goes away without `run`.
    private let abandon: @Sendable () -> Void
    private let ran = Atomic<Bool>(false)

    private init(user: String, session: String, persona: Persona, userMessage: ChatMessage, replyID: String,
                 prompt: [PromptMessage], lockToken: String, capture: DebugCapture?, environment: TurnEnvironment,
                 abandon: @escaping @Sendable () -> Void) {
        self.user = user
        self.session = session
        self.persona = persona
        self.userMessage = userMessage
        self.replyID = replyID
        self.prompt = prompt
        self.lockToken = lockToken
        self.capture = capture
        self.environment = environment
        self.abandon = abandon
    }

    deinit {
        if !ran.load(ordering: .relaxed) { abandon() }
    }

    /// Round trip 1: checks the session, takes its lock, reads the history window and stores the
    /// user message, atomically.
    public static func begin(user: String, session: String, personaID: String?, message: String,
                             in environment: TurnEnvironment) async throws(TurnRefusal) -> Turn {
        guard let persona = environment.personas.persona(personaID) else { throw .unknownPersona(personaID ?? "") }
        guard !environment.activeTurns.isShuttingDown else { throw .shuttingDown }
        let userMessage = ChatMessage(role: .user, content: message, timestamp: Date().timeIntervalSince1970, persona: persona.id)
        let lockToken = UUID().uuidString
        let start = TurnStart(user: user, session: session, persona: persona.id, message: userMessage,
                              window: environment.settings.prompt.window, lockToken: lockToken,
                              lockMilliseconds: environment.settings.lockMilliseconds)
        let result: TurnStartResult
        do {
            result = try await environment.store.beginTurn(start)
        } catch {
            undoLater(start, in: environment)
            throw .storeUnavailable("\(error)")
        }
        switch result {
        case .unknownSession: throw .unknownSession
        case .busy: throw .busy
        case .started(let window):
            let prompt = environment.settings.prompt.prompt(persona: persona, history: window, message: message)
            let replyID = UUID().uuidString.lowercased()
            // If `run` never happens, an empty partial reply is stored and the session's lock freed.
            var abandoned = reply(id: replyID, text: "", persona: persona, in: environment)
            abandoned.status = .partial
            abandoned.reason = "client_disconnected"
            let finish = TurnFinish(user: user, session: session, reply: abandoned, lockToken: lockToken, debugCapture: nil)
            let (store, metrics) = (environment.store, environment.metrics)
            return Turn(user: user, session: session, persona: persona, userMessage: userMessage, replyID: replyID,
                        prompt: prompt, lockToken: lockToken,
                        capture: environment.settings.debugCapture ? DebugCapture() : nil, environment: environment,
                        abandon: {
                            metrics.ended(.partial)
                            Task { try? await store.finishTurn(finish) }
                        })
        }
    }

    /// A begin that failed may still run in Redis later (it timed out while Redis stalled, and
    /// Redis reads what was sent once it resumes). Abandon it, retrying until Redis answers (for
    /// up to a minute), so the session is not left locked and holds no message the client was
    /// told was refused.
    private static func undoLater(_ start: TurnStart, in environment: TurnEnvironment) {
        let store = environment.store
        Task {
            for _ in 0..<120 {
                do {
                    return try await store.abandonTurn(start)
                } catch {
                    try? await Task.sleep(for: .milliseconds(500))
                }
            }
        }
    }

    /// Streams the reply through `emit` and stores it. Ends in one of four ways:
    /// complete; error (the model failed: the client gets an error event); partial with reason
    /// `client_disconnected` (emit threw or the task was cancelled); partial with reason `shutdown`.
    @discardableResult
    public func run(emit: (StreamEvent) async throws -> Void) async -> ChatMessage {
        ran.store(true, ordering: .relaxed)
        let started = ContinuousClock.now
        let stopper = Stopper()
        guard let registration = environment.activeTurns.register(stop: { stopper.stop(TurnStop.shutdown) }) else {
            return await end(text: "", outcome: .shutdown, emit: emit)
        }
        defer { environment.activeTurns.remove(registration) }

        let metrics = environment.metrics
        metrics.activeStreams.increment()
        defer { metrics.activeStreams.decrement() }

        var text = ""
        var pieces = 0
        var firstToken: Duration?
        let outcome: Outcome
        do {
            try await emit(.start(sessionID: session, messageID: replyID, userMessageID: userMessage.id))
            let completion = try await streamModel(stopper: stopper) { event in
                if case .text(let piece) = event {
                    text += piece
                    pieces += 1
                    if firstToken == nil { firstToken = ContinuousClock.now - started }
                }
                try await emit(event)
            }
            outcome = .complete(completion)
        } catch let error as ModelError {
            outcome = .failed(error)
        } catch TurnStop.shutdown {
            outcome = .shutdown
        } catch {
            outcome = .clientLeft  // the client's connection closed: a write failed or we were cancelled
        }
        let reply = await end(text: text, outcome: outcome, emit: emit)
        TurnReport(session: session, persona: persona.id, model: environment.model.name, reply: reply,
                   firstToken: firstToken, duration: ContinuousClock.now - started, pieces: pieces)
            .record(metrics, logger: environment.logger)
        return reply
    }

    // MARK: - Steps

    private enum Outcome {
        case complete(ModelCompletion)
        case failed(ModelError)
        case clientLeft
        case shutdown
    }

    /// Runs the model in a child task so deadlines and a shutdown can stop it; pieces come back
    /// through a stream and are handed to `forward` in this task, which owns the client. While
    /// the model is silent, the deadline timer sends a keep-alive now and then so proxies keep
    /// the stream open.
    private func streamModel(stopper: Stopper, forward: (StreamEvent) async throws -> Void) async throws -> ModelCompletion {
        let (pieces, sink) = AsyncThrowingStream<Piece, Error>.makeStream()
        stopper.attach { sink.finish(throwing: $0) }
        let deadlines = Deadlines(environment.settings)
        deadlines.start(keepAlive: { sink.yield(.keepAlive) }, expired: { sink.finish(throwing: ModelError.timeout($0)) })
        defer { deadlines.stop() }
        let capture = capture
        let (model, prompt) = (environment.model, self.prompt)
        return try await withThrowingTaskGroup(of: Void.self) { group in
            defer { group.cancelAll() }
            group.addTask {
                do {
                    let completion = try await model.streamReply(to: prompt, capture: capture) { delta in
                        deadlines.tick()
                        sink.yield(.delta(delta))
                    }
                    sink.yield(.done(completion))
                    sink.finish()
                } catch {
                    sink.finish(throwing: error)
                }
            }
            for try await piece in pieces {
                switch piece {
                case .delta(.text(let text)): try await forward(.text(text))
                case .keepAlive: try await forward(.keepAlive)
                case .done(let completion): return completion
                }
            }
            throw CancellationError()  // the stream ended with no result: this task was cancelled
        }
    }

    /// Round trip 2: stores the reply exactly once, then tells the client how it ended.
    private func end(text: String, outcome: Outcome, emit: (StreamEvent) async throws -> Void) async -> ChatMessage {
        var reply = Self.reply(id: replyID, text: text, persona: persona, in: environment)
        var failure: ErrorInfo?
        switch outcome {
        case .complete(let completion):
            reply.finishReason = completion.finishReason
            reply.usage = completion.usage
        case .failed(let error):
            reply.status = .error
            reply.error = error.info
            reply.finishReason = "error"
            failure = error.info
        case .clientLeft:
            reply.status = .partial
            reply.reason = "client_disconnected"
        case .shutdown:
            reply.status = .partial
            reply.reason = "shutdown"
            failure = ErrorInfo(message: "the service is shutting down; the partial reply was saved",
                                type: "service_unavailable", code: "shutdown")
        }
        let finish = TurnFinish(user: user, session: session, reply: reply, lockToken: lockToken, debugCapture: capture?.json())
        if let storeError = await store(finish) {
            failure = failure ?? ErrorInfo(message: "the reply could not be saved: \(storeError)", type: "storage_error", code: "store_unavailable")
        }
        let ending = TurnEnding(messageID: reply.id, status: reply.status, finishReason: reply.finishReason,
                                usage: reply.usage, reason: reply.reason)
        if case .clientLeft = outcome { return reply }
        try? await emit(failure.map { .error($0, ending) } ?? .finish(ending))
        return reply
    }

    private static func reply(id: String, text: String, persona: Persona, in environment: TurnEnvironment) -> ChatMessage {
        ChatMessage(id: id, role: .assistant, content: text, timestamp: Date().timeIntervalSince1970,
                    persona: persona.id, model: environment.model.name)
    }

    /// Stores in a task of its own, so a cancelled request (the client left) still saves its
    /// partial reply; retries for ~2 s (4 tries) so a Redis restart does not lose a finished reply.
    private func store(_ finish: TurnFinish) async -> Error? {
        let store = environment.store
        let logger = environment.logger
        return await Task {
            var lastError: Error?
            for attempt in 0..<4 {
                do {
                    try await store.finishTurn(finish)
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

private enum Piece: Sendable {
    case delta(ModelDelta)
    case keepAlive
    case done(ModelCompletion)
}
