/// A session's messages, oldest first (`GET /chat/history`).
public struct History: Codable, Sendable, Equatable {
    public var sessionID: String
    public var messages: [HistoryMessage]
    public var total: Int

    enum CodingKeys: String, CodingKey {
        case messages, total
        case sessionID = "session_id"
    }
}

/// One stored message. A reply cut short has status `partial` and a `reason`
/// (`client_disconnected`, `shutdown`); a failed one has status `error` and an `error`.
public struct HistoryMessage: Codable, Sendable, Equatable {
    public var id: String
    /// `user` or `assistant`.
    public var role: String
    public var content: String
    public var timestamp: Double
    /// `complete`, `partial` or `error`.
    public var status: String
    public var persona: String?
    public var model: String?
    public var finishReason: String?
    public var usage: TokenUsage?
    public var error: ErrorDetail?
    public var reason: String?
    /// Text, reasoning and tool calls in order, for replies that had more than text.
    public var parts: [JSONValue]?

    enum CodingKeys: String, CodingKey {
        case id, role, content, timestamp, status, persona, model, usage, error, reason, parts
        case finishReason = "finish_reason"
    }
}
