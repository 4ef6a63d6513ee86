/// One part of a stored reply, in the order it streamed: text, reasoning, or a tool call with
/// its input and its output or error. A reply that called tools keeps them all inside the one
/// message, so the history cap never separates a call from its result and the reply is still
/// written once, at the end of the turn.
public enum MessagePart: Sendable, Equatable, Codable {
    case text(String)
    case reasoning(String)
    case tool(ToolPart)

    /// A tool call and what came of it.
    public struct ToolPart: Sendable, Equatable {
        public var callID: String
        public var name: String
        public var input: JSONValue
        public var output: JSONValue?
        public var error: String?

        /// What the model is told of the result: the output as JSON, or the error.
        var resultText: String { output?.serialized ?? "error: \(error ?? "no result")" }

        public init(callID: String, name: String, input: JSONValue, output: JSONValue? = nil, error: String? = nil) {
            self.callID = callID
            self.name = name
            self.input = input
            self.output = output
            self.error = error
        }
    }

    enum CodingKeys: String, CodingKey {
        case type, text, name, input, output, error
        case callID = "tool_call_id"
    }

    public init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        switch try c.decode(String.self, forKey: .type) {
        case "text": self = .text(try c.decode(String.self, forKey: .text))
        case "reasoning": self = .reasoning(try c.decode(String.self, forKey: .text))
        default:
            self = .tool(ToolPart(callID: try c.decode(String.self, forKey: .callID), name: try c.decode(String.self, forKey: .name),
                                  input: try c.decodeIfPresent(JSONValue.self, forKey: .input) ?? .null,
                                  output: try c.decodeIfPresent(JSONValue.self, forKey: .output),
                                  error: try c.decodeIfPresent(String.self, forKey: .error)))
        }
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        switch self {
        case .text(let text):
            try c.encode("text", forKey: .type)
            try c.encode(text, forKey: .text)
        case .reasoning(let text):
            try c.encode("reasoning", forKey: .type)
            try c.encode(text, forKey: .text)
        case .tool(let tool):
            try c.encode("tool", forKey: .type)
            try c.encode(tool.callID, forKey: .callID)
            try c.encode(tool.name, forKey: .name)
            try c.encode(tool.input, forKey: .input)
            try c.encodeIfPresent(tool.output, forKey: .output)
            try c.encodeIfPresent(tool.error, forKey: .error)
        }
    }

    /// Reads a stored part with the one-pass reader (see ChatMessage+JSONValue).
    init?(json: JSONValue) {
        switch json["type"]?.string {
        case "text": guard let text = json["text"]?.string else { return nil }; self = .text(text)
        case "reasoning": guard let text = json["text"]?.string else { return nil }; self = .reasoning(text)
        case "tool":
            guard let id = json[CodingKeys.callID.rawValue]?.string, let name = json["name"]?.string else { return nil }
            self = .tool(ToolPart(callID: id, name: name, input: json["input"] ?? .null,
                                  output: json["output"].flatMap { $0 == .null ? nil : $0 }, error: json["error"]?.string))
        default: return nil
        }
    }
}
