/// Token counts of a reply, a session or a user.
public struct TokenUsage: Codable, Sendable, Equatable {
    public var promptTokens: Int
    public var completionTokens: Int
    public var totalTokens: Int
    /// True when the model reported nothing and the server estimated the counts from the text.
    public var estimated: Bool?

    public init(promptTokens: Int, completionTokens: Int, totalTokens: Int, estimated: Bool? = nil) {
        self.promptTokens = promptTokens
        self.completionTokens = completionTokens
        self.totalTokens = totalTokens
        self.estimated = estimated
    }

    enum CodingKeys: String, CodingKey {
        case estimated
        case promptTokens = "prompt_tokens"
        case completionTokens = "completion_tokens"
        case totalTokens = "total_tokens"
    }
}
