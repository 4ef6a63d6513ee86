/// Where a turn's earlier messages come from.
public enum TurnPrompt: Sendable, Equatable {
    /// Confab keeps the history: the stored window, then the new message. `instructions` (an
    /// OpenAI Responses caller's, for this turn only) follow the persona's system prompt.
    case history(instructions: String? = nil)
    /// The client sent the whole conversation (OpenAI chat completions, Open WebUI), its own
    /// system messages included: it follows the persona's system prompt as sent.
    case given([PromptMessage])

    var readsHistory: Bool {
        if case .history = self { true } else { false }
    }

    /// The prompt the model is sent.
    func messages(persona: Persona, history: [ChatMessage], message: String, builder: PromptBuilder) -> [PromptMessage] {
        switch self {
        case .history(let instructions):
            var prompt = builder.prompt(persona: persona, history: history, message: message)
            if let instructions, !instructions.isEmpty {
                prompt.insert(PromptMessage(role: "system", content: instructions), at: 1)
            }
            return prompt
        case .given(let messages):
            return [PromptMessage(role: "system", content: persona.systemPrompt)] + messages
        }
    }
}
