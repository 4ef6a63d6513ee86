/// The parts of an OpenAI streaming chunk Confab reads; unknown fields are ignored.
struct OpenAIChunk: Decodable {
    struct Choice: Decodable {
        struct Delta: Decodable {
            var content: String?
        }
        var delta: Delta?
        var finishReason: String?

        enum CodingKeys: String, CodingKey {
            case delta
            case finishReason = "finish_reason"
        }
    }

    /// `{"error": {"message": ...}}` (OpenAI, SGLang) or `{"object": "error", "message": ...}` (vLLM).
    struct ErrorBody: Decodable {
        var message: String?
    }

    var choices: [Choice]?
    var usage: Usage?
    var error: ErrorBody?
    var object: String?
    var message: String?

    var errorMessage: String? {
        if let error { return error.message ?? "unknown error" }
        if object == "error" { return message ?? "unknown error" }
        return nil
    }
}
