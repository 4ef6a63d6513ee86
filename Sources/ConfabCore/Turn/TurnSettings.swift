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

    public init(prompt: PromptBuilder, firstTokenTimeout: Duration, idleTimeout: Duration, totalTimeout: Duration,
                debugCapture: Bool) {
        self.prompt = prompt
        self.firstTokenTimeout = firstTokenTimeout
        self.idleTimeout = idleTimeout
        self.totalTimeout = totalTimeout
        self.debugCapture = debugCapture
    }

    /// The session lock outlives the longest possible reply, so a crashed instance frees it.
    var lockMilliseconds: Int {
        Int(totalTimeout.components.seconds) * 1000 + 30_000
    }
}
