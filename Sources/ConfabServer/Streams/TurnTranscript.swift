import ConfabCore

/// A turn's events gathered into one answer, for clients that asked for no stream (OpenAI's
/// `stream: false`, Open WebUI's `chat()`): the text, the client's tool calls, how it ended.
struct TurnTranscript: Sendable {
    var sessionID = ""
    var messageID = ""
    var userMessageID = ""
    var text = ""
    var reasoning = ""
    /// The calls a client's tools must answer, in order, with their arguments as the model sent them.
    var toolCalls: [ToolCall] = []
    var usage: Usage?
    var ending: TurnEnding?
    var error: ErrorInfo?

    /// Runs `turn` to its end and gathers what it said.
    static func of(_ turn: Turn) async -> TurnTranscript {
        var transcript = TurnTranscript()
        await turn.run { transcript.record($0, clientTools: turn.toolsRunByClient) }
        return transcript
    }

    mutating func record(_ event: StreamEvent, clientTools: Bool) {
        switch event {
        case .start(let session, let message, let userMessage): (sessionID, messageID, userMessageID) = (session, message, userMessage)
        case .text(let piece): text += piece
        case .reasoning(let piece): reasoning += piece
        case .toolInputAvailable(let call, let input) where clientTools:
            toolCalls.append(ToolCall(id: call.id, name: call.name, arguments: input.argumentsText))
        case .usage(let usage): self.usage = usage
        case .finish(let ending): self.ending = ending
        case .error(let info, let ending): (error, self.ending) = (info, ending)
        default: break
        }
    }

    /// OpenAI's finish reason for how the turn ended.
    var finishReason: String {
        if !toolCalls.isEmpty { return "tool_calls" }
        return switch ending?.finishReason {
        case "length": "length"
        case "content_filter": "content_filter"
        default: "stop"
        }
    }
}
