/// The parts of an OpenAI streaming chunk Confab reads; unknown fields are ignored.
struct OpenAIChunk {
    /// The first choice's new text, if any.
    var content: String?
    /// New reasoning text (`reasoning_content`, as DeepSeek, vLLM and llama.cpp send it).
    var reasoning: String?
    var toolCalls: [ToolCallFragment] = []
    var finishReason: String?
    var usage: Usage?
    /// `{"error": {"message": ...}}` (OpenAI, SGLang) or `{"object": "error", "message": ...}` (vLLM).
    var errorMessage: String?

    init(_ json: JSONValue) {
        let choice = json["choices"]?.array?.first
        let delta = choice?["delta"]
        content = delta?["content"]?.string
        reasoning = delta?["reasoning_content"]?.string ?? delta?["reasoning"]?.string
        toolCalls = delta?["tool_calls"]?.array?.map(ToolCallFragment.init) ?? []
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

/// One entry of `delta.tool_calls`: the first fragment of a call has its id and name, the rest
/// carry pieces of the arguments keyed by `index`.
struct ToolCallFragment: Equatable {
    var index: Int?
    var id: String?
    var name: String?
    var arguments: String?

    init(index: Int?, id: String?, name: String?, arguments: String?) {
        self.index = index
        self.id = id
        self.name = name
        self.arguments = arguments
    }

    init(_ json: JSONValue) {
        self.init(index: json["index"]?.int, id: json["id"]?.string, name: json["function"]?["name"]?.string,
                  arguments: json["function"]?["arguments"]?.string)
    }
}

/// Puts tool calls together from their fragments. Fragments are matched by `index`, except
/// that a fragment with an id not seen before starts a new call: some servers send parallel
/// calls all at index 0, told apart only by their ids.
struct ToolCallAssembler {
    private(set) var calls: [ToolCall] = []
    /// Which call the fragments of each upstream index now go to.
    private var byIndex: [Int: Int] = [:]

    /// Takes one fragment; returns what the client may be told at once.
    mutating func feed(_ fragment: ToolCallFragment) -> [ModelDelta] {
        var deltas: [ModelDelta] = []
        let index = fragment.index ?? 0
        var position: Int
        if let id = fragment.id, !id.isEmpty {
            if let known = calls.firstIndex(where: { $0.id == id }) {
                position = known
            } else {
                position = startCall(id: id, name: fragment.name ?? "", index: index, deltas: &deltas)
            }
        } else if let known = byIndex[index] {
            position = known
        } else {
            position = startCall(id: "call_\(calls.count + 1)", name: fragment.name ?? "", index: index, deltas: &deltas)
        }
        byIndex[index] = position
        if calls[position].name.isEmpty, let name = fragment.name { calls[position].name = name }
        if let text = fragment.arguments, !text.isEmpty {
            calls[position].arguments += text
            deltas.append(.toolCallArguments(id: calls[position].id, text: text))
        }
        return deltas
    }

    private mutating func startCall(id: String, name: String, index: Int, deltas: inout [ModelDelta]) -> Int {
        calls.append(ToolCall(id: id, name: name, arguments: ""))
        deltas.append(.toolCallStart(id: id, name: name))
        return calls.count - 1
    }
}
