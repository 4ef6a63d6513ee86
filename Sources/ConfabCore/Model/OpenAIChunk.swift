/// The parts of an OpenAI streaming chunk Confab reads; unknown fields are ignored.
struct OpenAIChunk {
    /// The first choice's new text, if any.
    var content: String?
    var finishReason: String?
    var usage: Usage?
    /// `{"error": {"message": ...}}` (OpenAI, SGLang) or `{"object": "error", "message": ...}` (vLLM).
    var errorMessage: String?

    init(_ json: JSONValue) {
        let choice = json["choices"]?.array?.first
        content = choice?["delta"]?["content"]?.string
        finishReason = choice?["finish_reason"]?.string
        usage = json["usage"].flatMap(Usage.init(json:))
        if let error = json["error"], error != .null {
            errorMessage = error["message"]?.string ?? error.string ?? "unknown error"
        } else if json["object"]?.string == "error" {
            errorMessage = json["message"]?.string ?? "unknown error"
        }
    }

    /// Parses one `data:` payload; nil when it is not JSON.
    init?(parsing text: String) {
        guard let json = try? JSONValue.parse(text) else { return nil }
        self.init(json)
    }
}
