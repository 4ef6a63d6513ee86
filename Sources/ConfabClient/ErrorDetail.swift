/// An error as Confab reports it, in a refusal, a stream's `error` event or a stored reply.
public struct ErrorDetail: Codable, Sendable, Equatable {
    public var message: String
    /// The kind: `authentication_error`, `not_found`, `rate_limit_error`, `server_error`, …
    public var type: String
    /// The precise reason, for programs: `session_not_found`, `upstream_timeout_idle`, …
    public var code: String
    /// Seconds to wait before trying again, when the model server said so.
    public var retryAfter: Int?

    public init(message: String, type: String, code: String, retryAfter: Int? = nil) {
        self.message = message
        self.type = type
        self.code = code
        self.retryAfter = retryAfter
    }

    enum CodingKeys: String, CodingKey {
        case message, type, code
        case retryAfter = "retry_after"
    }
}
