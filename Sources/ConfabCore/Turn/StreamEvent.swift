/// What a turn tells its client, in order: `start`; then per model call (a step) `stepStart`,
/// its text, reasoning and tool calls with their results, `stepFinish`; then `usage`, and
/// `finish` or `error` (the error carries the ending too). Each wire format is an encoder over
/// these (ConfabServer's `ConfabStreamEncoder`, `UIMessageStreamEncoder`), so the ids every wire
/// needs travel with the events.
public enum StreamEvent: Sendable, Equatable, Codable {
    /// The session, the id the reply will be stored under, and the stored user message's id.
    case start(sessionID: String, messageID: String, userMessageID: String)
    /// A model call begins (steps count from 1).
    case stepStart(step: Int)
    /// A text part of this step begins; `id` names it for the pieces and its end.
    case textStart(id: String)
    /// A piece of reply text (the hot path: one per upstream delta).
    case text(String)
    case textEnd(id: String)
    case reasoningStart(id: String)
    /// A piece of the model's reasoning (`reasoning_content`).
    case reasoning(String)
    case reasoningEnd(id: String)
    /// The model began a tool call; its arguments follow in pieces.
    case toolInputStart(ToolCallHeader)
    case toolInputDelta(callID: String, text: String)
    /// The whole call, its arguments parsed (or the raw text as a string when not JSON).
    case toolInputAvailable(ToolCallHeader, input: JSONValue)
    case toolOutput(callID: String, output: JSONValue)
    case toolError(callID: String, message: String)
    /// A model call ended, with its finish reason (`tool_calls` when tools run next).
    case stepFinish(step: Int, finishReason: String)
    /// Token usage summed over the steps (estimated when the model reported none).
    case usage(Usage)
    /// Nothing to say yet; sent while the model is silent so proxies keep the stream open.
    case keepAlive
    /// The reply ended normally; carries the finish reason and usage.
    case finish(TurnEnding)
    /// The reply ended early: the model failed or the service is shutting down.
    case error(ErrorInfo, TurnEnding)
}

/// Who a tool call is: its id, the tool's name, and the step it belongs to.
public struct ToolCallHeader: Sendable, Equatable, Codable {
    public var id: String
    public var name: String
    public var step: Int

    public init(id: String, name: String, step: Int) {
        self.id = id
        self.name = name
        self.step = step
    }
}

/// How a turn ended, as stored with the reply.
public struct TurnEnding: Sendable, Equatable, Codable {
    public var messageID: String
    public var status: ChatMessage.Status
    public var finishReason: String?
    public var usage: Usage?
    /// client_disconnected or shutdown, for partial replies.
    public var reason: String?
}

extension StreamEvent {
    /// The turn's last event: `finish` or `error`.
    public var isEnding: Bool {
        switch self {
        case .finish, .error: true
        default: false
        }
    }
}
