/// Builds what the model is sent: the persona's system prompt, then the most recent messages
/// that fit both the message window and the character budget, then the user's new message.
public struct PromptBuilder: Sendable {
    public var window: Int
    /// Bound on the characters of the whole prompt, so a long history cannot overflow the
    /// model's context; the system prompt and the new message always go in.
    public var characterBudget: Int

    public init(window: Int, characterBudget: Int) {
        self.window = window
        self.characterBudget = characterBudget
    }

    /// - Parameter history: earlier messages, newest first (as the store keeps them).
    public func prompt(persona: Persona, history: [ChatMessage], message: String) -> [PromptMessage] {
        var remaining = characterBudget - persona.systemPrompt.characterCount - message.characterCount
        var kept: [[PromptMessage]] = []
        // A stored message goes in whole or not at all: a tool call never loses its result.
        for earlier in history.prefix(window) {
            let replayed = Self.replay(earlier)
            guard !replayed.isEmpty else { continue }
            remaining -= replayed.reduce(0) { $0 + $1.size }
            if remaining < 0 { break }
            kept.append(replayed)
        }
        return [PromptMessage(role: "system", content: persona.systemPrompt)]
            + kept.reversed().flatMap { $0 }
            + [PromptMessage(role: "user", content: message)]
    }

    /// Stored messages, oldest first, as the model is sent them: for a prompt a client builds on
    /// a stored conversation without keeping the turn.
    public static func replayed(_ history: [ChatMessage]) -> [PromptMessage] {
        history.flatMap(replay)
    }

    /// A stored message as OpenAI messages. A reply that called tools becomes, per step, an
    /// assistant message with its `tool_calls` (and any text before them), one `tool` message per
    /// result, and then the assistant's closing text. A call whose result never came (the turn
    /// was cut) is answered with its error, as OpenAI refuses a call without a result.
    static func replay(_ message: ChatMessage) -> [PromptMessage] {
        guard let parts = message.parts, parts.contains(where: \.isTool) else {
            return message.content.isEmpty ? [] : [PromptMessage(role: message.role.rawValue, content: message.content)]
        }
        var replayed: [PromptMessage] = []
        var text = ""
        var calls: [MessagePart.ToolPart] = []
        func closeStep() {
            guard !calls.isEmpty else { return }
            replayed.append(PromptMessage(role: "assistant", content: text.isEmpty ? nil : text,
                                          toolCalls: calls.map { ToolCall(id: $0.callID, name: $0.name, arguments: $0.input.argumentsText) }))
            for call in calls {
                replayed.append(PromptMessage(role: "tool", content: call.resultText, toolCallID: call.callID))
            }
            (text, calls) = ("", [])
        }
        for part in parts {
            switch part {
            case .text(let piece):
                closeStep()
                text += piece
            case .reasoning: break
            case .tool(let call): calls.append(call)
            }
        }
        closeStep()
        if !text.isEmpty { replayed.append(PromptMessage(role: "assistant", content: text)) }
        return replayed
    }
}

extension MessagePart {
    var isTool: Bool {
        if case .tool = self { true } else { false }
    }
}
