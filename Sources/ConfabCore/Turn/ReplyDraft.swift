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
    private var usedMoreThanText = false
    /// The events that close what a step cut short had open, for the client to be told.
    private(set) var closingEvents: [StreamEvent] = []

    init(messageID: String) { self.messageID = messageID }

    /// A model call begins.
    mutating func beginStep() -> StreamEvent {
        step += 1
        stepCharacters = 0
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
            stepCharacters += piece.count
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
            stepCharacters += piece.count
            try await send(.reasoning(piece))
        case .toolCallStart(let id, let name):
            try await closeParts(send: send)
            try await send(.toolInputStart(ToolCallHeader(id: id, name: name, step: step)))
        case .toolCallArguments(let id, let piece):
            stepCharacters += piece.count
            try await send(.toolInputDelta(callID: id, text: piece))
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

    /// Ends the step: its usage (reported, or estimated from `promptCharacters` and what came)
    /// is added to the reply's.
    mutating func finishStep(reason: String, usage reported: Usage?, promptCharacters: Int,
                             send: (StreamEvent) async throws -> Void) async throws {
        try await closeParts(send: send)
        countUsage(reported, promptCharacters: promptCharacters)
        try await send(.stepFinish(step: step, finishReason: reason))
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
        if stepCharacters > 0 || usage == nil { countUsage(nil, promptCharacters: promptCharacters) }
        stepCharacters = 0
    }

    /// Records a tool call and what came of it, after the step's text.
    mutating func recordTool(_ call: ToolCall, input: JSONValue, outcome: ToolOutcome) {
        usedMoreThanText = true
        switch outcome {
        case .output(let output): parts.append(.tool(MessagePart.ToolPart(callID: call.id, name: call.name, input: input, output: output)))
        case .failure(let message): parts.append(.tool(MessagePart.ToolPart(callID: call.id, name: call.name, input: input, error: message)))
        }
    }

    /// The `tool` messages that give the model the results of `calls` (recorded already).
    func toolResults(for calls: [ToolCall]) -> [PromptMessage] {
        calls.map { call in
            let recorded = parts.lazy.compactMap { part -> MessagePart.ToolPart? in
                if case .tool(let tool) = part, tool.callID == call.id { tool } else { nil }
            }.last
            return PromptMessage(role: "tool", content: recorded?.resultText ?? "error: no result", toolCallID: call.id)
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

    private mutating func countUsage(_ reported: Usage?, promptCharacters: Int) {
        let step = reported ?? Usage.estimate(promptCharacters: promptCharacters, completionCharacters: stepCharacters)
        usage = usage.map { $0 + step } ?? step
    }
}
