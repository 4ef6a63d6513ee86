/// A reply as it grows during a turn: its parts in order, the open text or reasoning part of the
/// current step, the tool calls streaming in, and the counts the turn reports. Turns each model
/// delta into the events every wire needs (a part's start before its first piece, its end when
/// the step moves on), so the encoders only translate.
struct ReplyDraft {
    let messageID: String
    /// Text parts are ranges of `text` (UTF-8 offsets), so a token costs one append, not two.
    private enum Part {
        case text(Range<Int>)
        case reasoning(String)
        case tool(MessagePart.ToolPart)
    }
    private var parts: [Part] = []
    /// All text of the reply, as stored in `content`.
    private(set) var text = ""
    /// Pieces of text relayed (one per upstream delta).
    private(set) var pieces = 0
    private(set) var firstToken: Duration?
    /// Usage summed over the finished steps.
    private(set) var usage: Usage?
    private(set) var step = 0
    private var openText: (id: String, start: Int)?
    private var openReasoning: (id: String, text: String)?
    private var stepCharacters = 0
    private var stepTextStart = 0
    private var stepCounted = false
    /// Tool call ids used in this turn, and this step's renames: servers (and the assembler's
    /// fallback) may number calls per response, but each call of a reply needs its own id.
    private var callIDs: Set<String> = []
    private var renamed: [String: String] = [:]
    private var usedMoreThanText = false
    /// The events that close what a step cut short had open, for the client to be told.
    private(set) var closingEvents: [StreamEvent] = []

    init(messageID: String) { self.messageID = messageID }

    /// A model call begins.
    mutating func beginStep() -> StreamEvent {
        step += 1
        stepCharacters = 0
        stepCounted = false
        renamed = [:]
        stepTextStart = text.utf8.count
        return .stepStart(step: step)
    }

    /// Relays one delta: the events to send, in order, through `send`.
    mutating func relay(_ delta: ModelDelta, since start: ContinuousClock.Instant,
                        send: (StreamEvent) async throws -> Void) async throws {
        switch delta {
        case .text(let piece):
            if openText == nil {
                try await closeReasoning(send: send)
                let id = "text-\(step)"
                openText = (id, text.utf8.count)
                try await send(.textStart(id: id))
            }
            text += piece
            pieces += 1
            if firstToken == nil { firstToken = ContinuousClock.now - start }
            try await send(.text(piece))
        case .reasoning(let piece):
            if openReasoning == nil {
                try await closeText(send: send)
                let id = "reasoning-\(step)"
                openReasoning = (id, "")
                usedMoreThanText = true
                try await send(.reasoningStart(id: id))
            }
            openReasoning?.text += piece
            stepCharacters += piece.utf8.count
            try await send(.reasoning(piece))
        case .toolCallStart(let id, let name):
            try await closeParts(send: send)
            let unique = callIDs.contains(id) ? "\(id)-\(step)-\(callIDs.count)" : id
            callIDs.insert(unique)
            renamed[id] = unique
            try await send(.toolInputStart(ToolCallHeader(id: unique, name: name, step: step)))
        case .toolCallArguments(let id, let piece):
            stepCharacters += piece.utf8.count
            try await send(.toolInputDelta(callID: renamed[id] ?? id, text: piece))
        }
    }

    /// Ends the open text and reasoning parts (before tools run, or the step ends).
    mutating func closeParts(send: (StreamEvent) async throws -> Void) async throws {
        try await closeReasoning(send: send)
        try await closeText(send: send)
    }

    private mutating func closeText(send: (StreamEvent) async throws -> Void) async throws {
        guard let open = openText else { return }
        openText = nil
        parts.append(.text(open.start..<text.utf8.count))
        try await send(.textEnd(id: open.id))
    }

    private mutating func closeReasoning(send: (StreamEvent) async throws -> Void) async throws {
        guard let open = openReasoning else { return }
        openReasoning = nil
        parts.append(.reasoning(open.text))
        try await send(.reasoningEnd(id: open.id))
    }

    /// Ends the step.
    mutating func finishStep(reason: String, send: (StreamEvent) async throws -> Void) async throws {
        try await closeParts(send: send)
        try await send(.stepFinish(step: step, finishReason: reason))
    }

    /// Adds the step's usage to the reply's: as reported, or estimated from `promptCharacters`
    /// and what came. Once per step.
    mutating func countUsage(_ reported: Usage?, promptCharacters: Int) {
        guard !stepCounted else { return }
        stepCounted = true
        let stepCharacters = self.stepCharacters + text.utf8.count - stepTextStart
        let step = reported ?? Usage.estimate(promptCharacters: promptCharacters, completionCharacters: stepCharacters)
        usage = usage.map { $0 + step } ?? step
    }

    /// A tool call ready to run: its id as the client knows it, its input parsed, and why it
    /// will not run, if it will not.
    struct Call {
        var id: String
        var name: String
        var input: JSONValue
        /// The arguments as the model sent them (the registry refuses what is not an object).
        var arguments: String
        var refusal: String?
        var toolCall: ToolCall { ToolCall(id: id, name: name, arguments: arguments) }
    }

    /// The step's calls under the ids the client was told, inputs parsed (arguments that are
    /// not JSON stay their text, as a string); past `limit` calls, or with arguments over 32 KiB,
    /// a call is refused.
    func uniqueCalls(_ calls: [ToolCall], limit: Int) -> [Call] {
        calls.enumerated().map { index, call in
            let input = (try? JSONValue.parse(call.arguments.isEmpty ? "{}" : call.arguments)) ?? .string(call.arguments)
            var refusal: String?
            if index >= limit { refusal = "too many tool calls in one step (at most \(limit))" }
            if call.arguments.utf8.count > 32 * 1024 { refusal = "the arguments are over 32 KiB" }
            return Call(id: renamed[call.id] ?? call.id, name: call.name, input: input, arguments: call.arguments, refusal: refusal)
        }
    }

    /// Ends a step cut short (an error, a shutdown, the client gone), estimating its usage.
    mutating func abandonStep(promptCharacters: Int) {
        closingEvents = []
        if let open = openReasoning {
            parts.append(.reasoning(open.text))
            closingEvents.append(.reasoningEnd(id: open.id))
        }
        if let open = openText {
            parts.append(.text(open.start..<text.utf8.count))
            closingEvents.append(.textEnd(id: open.id))
        }
        if step > 0 { closingEvents.append(.stepFinish(step: step, finishReason: "error")) }
        openText = nil
        openReasoning = nil
        if stepCharacters > 0 || text.utf8.count > stepTextStart || usage == nil { countUsage(nil, promptCharacters: promptCharacters) }
    }

    /// Records a tool call and what came of it, after the step's text.
    mutating func recordTool(_ call: Call, outcome: ToolOutcome) {
        usedMoreThanText = true
        switch outcome {
        case .output(let output): parts.append(.tool(MessagePart.ToolPart(callID: call.id, name: call.name, input: call.input, output: output)))
        case .failure(let message): parts.append(.tool(MessagePart.ToolPart(callID: call.id, name: call.name, input: call.input, error: message)))
        }
    }

    /// Records a call the client will run: it has no result here.
    mutating func recordClientCall(_ call: Call) {
        usedMoreThanText = true
        parts.append(.tool(MessagePart.ToolPart(callID: call.id, name: call.name, input: call.input)))
    }

    /// The `tool` messages that give the model the results of the calls `ids` (recorded already).
    func toolResults(for ids: [String]) -> [PromptMessage] {
        ids.map { id in
            let recorded = parts.lazy.compactMap { part -> MessagePart.ToolPart? in
                if case .tool(let tool) = part, tool.callID == id { tool } else { nil }
            }.last
            return PromptMessage(role: "tool", content: recorded?.resultText ?? "error: no result", toolCallID: id)
        }
    }

    /// The text of the current step.
    var stepText: String {
        String(decoding: text.utf8.dropFirst(stepTextStart), as: UTF8.self)
    }

    /// The parts to store: none for a reply that was only text (its `content` says it all).
    var storedParts: [MessagePart]? {
        guard usedMoreThanText else { return nil }
        let bytes = Array(text.utf8)
        return parts.compactMap { part in
            switch part {
            case .text(let range): range.isEmpty ? nil : .text(String(decoding: bytes[range], as: UTF8.self))
            case .reasoning(let text): text.isEmpty ? nil : .reasoning(text)
            case .tool(let tool): .tool(tool)
            }
        }
    }
}
