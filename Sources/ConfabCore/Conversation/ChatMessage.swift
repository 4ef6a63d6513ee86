import Foundation

/// One stored message of a conversation, as kept in Redis and returned by the history API.
public struct ChatMessage: Codable, Sendable, Equatable {
    public enum Role: String, Codable, Sendable { case user, assistant }

    /// complete: the whole reply; partial: cut short by the client or a shutdown; error: the model failed.
    public enum Status: String, Codable, Sendable { case complete, partial, error }

    public var id: String
    public var role: Role
    public var content: String
    public var timestamp: Double
    public var status: Status
    public var persona: String?
    public var model: String?
    public var finishReason: String?
    public var usage: Usage?
    public var error: ErrorInfo?
    /// Why a reply is partial: client_disconnected or shutdown.
    public var reason: String?
    /// Text, reasoning and tool calls in order, for replies that had more than text; `content`
    /// still holds all the text.
    public var parts: [MessagePart]?

    public init(id: String = UUID().uuidString.lowercased(), role: Role, content: String, timestamp: Double,
                status: Status = .complete, persona: String? = nil, model: String? = nil, finishReason: String? = nil,
                usage: Usage? = nil, error: ErrorInfo? = nil, reason: String? = nil, parts: [MessagePart]? = nil) {
        self.id = id
        self.role = role
        self.content = content
        self.timestamp = timestamp
        self.status = status
        self.persona = persona
        self.model = model
        self.finishReason = finishReason
        self.usage = usage
        self.error = error
        self.reason = reason
        self.parts = parts
    }

    enum CodingKeys: String, CodingKey {
        case id, role, content, timestamp, status, persona, model, usage, error, reason, parts
        case finishReason = "finish_reason"
    }
}

/// Token counts reported by the model.
public struct Usage: Codable, Sendable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int
    /// True when the model reported no usage (a cut stream, a client gone, a server without
    /// `include_usage`) and the counts are estimated from the text.
    public var estimated: Bool?

    public init(promptTokens: Int, completionTokens: Int, totalTokens: Int? = nil, estimated: Bool? = nil) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.totalTokens = totalTokens ?? promptTokens + completionTokens
        self.estimated = estimated == true ? true : nil
    }

    /// Adds another step's usage; the sum is estimated if either part was.
    public static func + (lhs: Usage, rhs: Usage) -> Usage {
        Usage(promptTokens: lhs.promptTokens + rhs.promptTokens, completionTokens: lhs.completionTokens + rhs.completionTokens,
              estimated: lhs.estimated == true || rhs.estimated == true)
    }

    /// About four characters a token, as OpenAI's tokenizers average on English text.
    public static func estimate(promptCharacters: Int, completionCharacters: Int) -> Usage {
        Usage(promptTokens: (promptCharacters + 3) / 4, completionTokens: (completionCharacters + 3) / 4, estimated: true)
    }

    public init(from decoder: any Decoder) throws {
        // Some servers leave out total_tokens.
        let c = try decoder.container(keyedBy: CodingKeys.self)
        self.init(promptTokens: try c.decodeIfPresent(Int.self, forKey: .promptTokens) ?? 0,
                  completionTokens: try c.decodeIfPresent(Int.self, forKey: .completionTokens) ?? 0,
                  totalTokens: try c.decodeIfPresent(Int.self, forKey: .totalTokens),
                  estimated: try c.decodeIfPresent(Bool.self, forKey: .estimated))
    }

    enum CodingKeys: String, CodingKey {
        case estimated
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case totalTokens = "total_tokens"
    }
}

/// A machine-readable code and a human-readable message, used for errors everywhere.
public struct ErrorInfo: Codable, Sendable, Equatable, Error {
    public var message: String
    public var type: String
    public var code: String
    /// Seconds to wait before trying again, when the model server said so (HTTP 429/503 Retry-After).
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
