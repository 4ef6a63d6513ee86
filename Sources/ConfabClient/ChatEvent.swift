/// One thing that happens while Confab streams a reply (`POST /chat/stream`), in order:
/// `start`, then for each model step `stepStart`, text, reasoning and tool events, `stepFinish`,
/// then `usage` and one ending: `finish`, `error`, `stopped` (on a socket, after
/// ``ChatSocket/stop(requestID:)``), or — when the connection broke before the server said
/// `[DONE]` — `interrupted`.
public enum ChatEvent: Sendable, Equatable {
    /// The turn began; the user's message is stored as `userMessageID`, the reply will be `messageID`.
    case start(sessionID: String, messageID: String, userMessageID: String)
    case stepStart(step: Int)
    /// A piece of the reply's text (`{"content": …}` on the wire).
    case text(String)
    /// A piece of the model's reasoning, for models that show it.
    case reasoning(String)
    /// The model began a tool call; its input follows in ``toolCall(_:)``.
    case toolInputStart(id: String, name: String, step: Int)
    case toolCall(ToolCall)
    case toolResult(id: String, name: String, output: JSONValue)
    case toolError(id: String, name: String, message: String)
    case stepFinish(step: Int, finishReason: String)
    case usage(TokenUsage)
    /// The reply ended and is stored.
    case finish(TurnEnding)
    /// The reply failed (the model's error, a deadline); what there was of it is stored.
    case error(TurnEnding, ErrorDetail)
    /// The reply was stopped on request (`/chat/ws`'s `stop` frame; on the wire a `finish` with
    /// status `partial` and reason `stopped`); what there was of it is stored.
    case stopped(TurnEnding)
    /// The connection broke before the reply ended. A server that is still up stores what it had
    /// sent as a partial reply (see ``ConfabClient/history(sessionID:)``). This client does not
    /// resume the stream: resumable streams come later.
    case interrupted(reason: String)
    /// An event this client does not know yet (a newer server), kept whole.
    case other(type: String, JSONValue)

    /// A tool call with its whole input.
    public struct ToolCall: Sendable, Equatable {
        public var id: String
        public var name: String
        public var input: JSONValue
        public var step: Int
    }

    /// How a reply ended, as the server stored it.
    public struct TurnEnding: Sendable, Equatable {
        public var messageID: String
        /// `complete`, `partial` or `error`.
        public var status: String
        public var finishReason: String
        public var usage: TokenUsage?
        /// Why a reply is partial (`client_disconnected`, `shutdown`).
        public var reason: String?
    }
}
