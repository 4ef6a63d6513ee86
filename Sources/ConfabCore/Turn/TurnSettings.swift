/// The settings a turn runs under.
public struct TurnSettings: Sendable {
    public var prompt: PromptBuilder
    /// No first token by then: the model is considered hung.
    public var firstTokenTimeout: Duration
    /// No token for this long mid-stream: the model is considered hung.
    public var idleTimeout: Duration
    /// A whole reply may take no longer than this.
    public var totalTimeout: Duration
    public var debugCapture: Bool
    /// How often a keep-alive goes to the client while the model says nothing.
    public var keepAliveInterval: Duration
    /// Model calls in one turn at most (tool results go back to the model between them).
    public var maxSteps: Int
    /// How long one tool call may take.
    public var toolTimeout: Duration

    public init(prompt: PromptBuilder, firstTokenTimeout: Duration, idleTimeout: Duration, totalTimeout: Duration,
                debugCapture: Bool, keepAliveInterval: Duration = .seconds(15), maxSteps: Int = 5,
                toolTimeout: Duration = .seconds(10)) {
        self.prompt = prompt
        self.firstTokenTimeout = firstTokenTimeout
        self.idleTimeout = idleTimeout
        self.totalTimeout = totalTimeout
        self.debugCapture = debugCapture
        self.keepAliveInterval = keepAliveInterval
        self.maxSteps = maxSteps
        self.toolTimeout = toolTimeout
    }

    /// The session lock outlives the longest possible reply, so a crashed instance frees it.
    var lockMilliseconds: Int {
        Int(totalTimeout.components.seconds) * 1000 + 30_000
    }
}
