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
        var remaining = characterBudget - persona.systemPrompt.count - message.count
        var kept: [PromptMessage] = []
        for earlier in history.prefix(window) where !earlier.content.isEmpty {
            remaining -= earlier.content.count
            if remaining < 0 { break }
            kept.append(PromptMessage(role: earlier.role.rawValue, content: earlier.content))
        }
        return [PromptMessage(role: "system", content: persona.systemPrompt)]
            + kept.reversed()
            + [PromptMessage(role: "user", content: message)]
    }
}
