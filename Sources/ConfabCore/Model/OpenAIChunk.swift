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

    /// Parses one `data:` payload; nil when it is not JSON. Runs once per token: only the fields
    /// above are built, the rest (id, model, created, ...) checked and skipped.
    init?(parsing text: String) {
        var reader = JSONReader(bytes: Array(text.utf8))
        do {
            if reader.peek() == UInt8(ascii: "{") {
                try read(&reader)
            } else {
                try reader.skipValue(depth: 0)
            }
            reader.skipSpace()
            guard reader.index == reader.bytes.count else { return nil }
        } catch {
            return nil
        }
    }

    private mutating func read(_ reader: inout JSONReader) throws {
        var object: String?
        var message: String?
        try reader.members(depth: 0) { reader, key in
            if key.spells("choices") {
                // A key given twice counts the last time, as a whole parse would read it.
                (content, reasoning, toolCalls, finishReason) = (nil, nil, [], nil)
                guard reader.peek() == UInt8(ascii: "[") else { return try reader.skipValue(depth: 1) }
                try reader.elements(depth: 1) { reader, position in
                    guard position == 0, reader.peek() == UInt8(ascii: "{") else { return try reader.skipValue(depth: 2) }
                    try readChoice(&reader)
                }
            } else if key.spells("usage") {
                usage = Usage(json: try reader.value(depth: 1))
            } else if key.spells("error") {
                let error = try reader.value(depth: 1)
                errorMessage = error == .null ? nil : error["message"]?.string ?? error.string ?? "unknown error"
            } else if key.spells("object") {
                object = try reader.optionalString(depth: 1)
            } else if key.spells("message") {
                message = try reader.optionalString(depth: 1)
            } else {
                try reader.skipValue(depth: 1)
            }
        }
        if errorMessage == nil, object == "error" { errorMessage = message ?? "unknown error" }
    }

    private mutating func readChoice(_ reader: inout JSONReader) throws {
        var reasoningContent: String?
        var reasoningText: String?
        try reader.members(depth: 2) { reader, key in
            if key.spells("delta") {
                (content, reasoningContent, reasoningText, toolCalls) = (nil, nil, nil, [])
                guard reader.peek() == UInt8(ascii: "{") else { return try reader.skipValue(depth: 3) }
                try reader.members(depth: 3) { reader, key in
                    if key.spells("content") {
                        content = try reader.optionalString(depth: 4)
                    } else if key.spells("reasoning_content") {
                        reasoningContent = try reader.optionalString(depth: 4)
                    } else if key.spells("reasoning") {
                        reasoningText = try reader.optionalString(depth: 4)
                    } else if key.spells("tool_calls") {
                        toolCalls = try reader.value(depth: 4).array?.map(ToolCallFragment.init) ?? []
                    } else {
                        try reader.skipValue(depth: 4)
                    }
                }
            } else if key.spells("finish_reason") {
                finishReason = try reader.optionalString(depth: 3)
            } else {
                try reader.skipValue(depth: 3)
            }
        }
        reasoning = reasoningContent ?? reasoningText
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
