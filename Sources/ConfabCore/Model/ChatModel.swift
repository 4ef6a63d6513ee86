/// A model that streams a reply to a prompt. `OpenAIChatModel` speaks to any
/// OpenAI-compatible server; tests use it against a local test upstream.
public protocol ChatModel: Sendable {
    /// Streams the reply, calling `onDelta` for each piece (text, reasoning, a fragment of a tool
    /// call) as it arrives, and returns how the reply finished, with the tool calls the model
    /// asked for assembled. Offers `tools` to the model when there are any. Throws `ModelError`
    /// when the model fails, and `CancellationError` when the calling task is cancelled (the
    /// upstream request is then closed). `capture`, when given, receives the exact request and
    /// the raw response. `choice` overrides the model and sets a temperature (an agent's).
    func streamReply(to prompt: [PromptMessage], tools: [ToolSpec], choice: ModelChoice, capture: DebugCapture?,
                     onDelta: @Sendable (ModelDelta) async throws -> Void) async throws -> ModelCompletion

    /// The model's name, as stored with each reply.
    var name: String { get }
}

/// A persona's or agent's own model settings; nil leaves each to the configured model.
public struct ModelChoice: Sendable, Equatable {
    public var model: String?
    public var temperature: Double?

    public init(model: String? = nil, temperature: Double? = nil) {
        self.model = model
        self.temperature = temperature
    }
}

/// A piece of the reply as it streams.
public enum ModelDelta: Sendable, Equatable {
    case text(String)
    case reasoning(String)
    /// A new tool call began (its id and the tool's name are known).
    case toolCallStart(id: String, name: String)
    /// More of a tool call's arguments.
    case toolCallArguments(id: String, text: String)
}

/// How a reply finished: the finish reason (stop, length, tool_calls, ...), token usage when
/// reported, and the tool calls the model asked for, assembled from their fragments.
public struct ModelCompletion: Sendable, Equatable {
    public var finishReason: String
    public var usage: Usage?
    public var toolCalls: [ToolCall]

    public init(finishReason: String, usage: Usage?, toolCalls: [ToolCall] = []) {
        self.finishReason = finishReason
        self.usage = usage
        self.toolCalls = toolCalls
    }
}

/// Why the model did not finish a reply.
public enum ModelError: Error, Sendable, Equatable {
    /// The upstream answered with an HTTP error before streaming.
    case http(status: Int, message: String, retryAfter: String?)
    /// The upstream sent an error event in the middle of the stream.
    case streamError(String)
    /// The stream ended without `[DONE]` or a finish reason.
    case interrupted
    /// No connection, or it broke.
    case transport(String)
    /// A deadline passed: connect, first_token, idle or total.
    case timeout(String)

    /// The error as the client sees it and as it is stored with the partial reply.
    public var info: ErrorInfo {
        switch self {
        case .http(let status, let message, let retryAfter):
            ErrorInfo(message: "model server answered HTTP \(status): \(message)", type: "upstream_error", code: "upstream_http_\(status)",
                      retryAfter: retryAfter.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) })
        case .streamError(let message):
            ErrorInfo(message: "model server reported an error: \(message)", type: "upstream_error", code: "upstream_stream_error")
        case .interrupted:
            ErrorInfo(message: "model stream ended before the reply was finished", type: "upstream_error", code: "upstream_interrupted")
        case .transport(let message):
            ErrorInfo(message: "model server unreachable: \(message)", type: "upstream_error", code: "upstream_unavailable")
        case .timeout(let which):
            ErrorInfo(message: "model server exceeded the \(which) deadline", type: "upstream_timeout", code: "upstream_timeout_\(which)")
        }
    }
}
