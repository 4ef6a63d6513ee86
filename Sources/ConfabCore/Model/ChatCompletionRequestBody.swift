import Foundation

/// The body of a streaming `POST /chat/completions`, written by hand once per model call:
/// Foundation's `JSONEncoder` spent ~6% of a chat turn's instructions on it (docs/PERFORMANCE.md).
/// It says what `PromptMessage`'s and `ToolCall`'s `Encodable` conformances say.
struct ChatCompletionRequestBody {
    var model: String
    var messages: [PromptMessage]
    var maxTokens: Int?
    var temperature: Double?
    var tools: [ToolSpec]

    func json() throws -> [UInt8] {
        var out = #"{"model":"#
        JSONValue.quote(model, into: &out)
        out += #","messages":["#
        for (index, message) in messages.enumerated() {
            if index > 0 { out += "," }
            message.writeJSON(into: &out)
        }
        out += #"],"stream":true,"stream_options":{"include_usage":true}"#
        if let maxTokens { out += #","max_tokens":\#(maxTokens)"# }
        // Every door takes 0...2 only; a value JSON cannot carry is left out.
        if let temperature, temperature.isFinite { out += #","temperature":\#(temperature)"# }
        if !tools.isEmpty {
            // Rare and nested (JSON Schemas): left to the encoder.
            out += #","tools":"#
            out += String(decoding: try JSONEncoder().encode(tools), as: UTF8.self)
        }
        out += "}"
        return Array(out.utf8)
    }
}

extension PromptMessage {
    func writeJSON(into out: inout String) {
        out += #"{"role":"#
        JSONValue.quote(role, into: &out)
        out += #","content":"#
        if let content { JSONValue.quote(content, into: &out) } else { out += "null" }  // null beside tool calls
        if let toolCalls {
            out += #","tool_calls":["#
            for (index, call) in toolCalls.enumerated() {
                if index > 0 { out += "," }
                out += #"{"id":"#
                JSONValue.quote(call.id, into: &out)
                out += #","type":"function","function":{"name":"#
                JSONValue.quote(call.name, into: &out)
                out += #","arguments":"#
                JSONValue.quote(call.arguments, into: &out)
                out += "}}"
            }
            out += "]"
        }
        if let toolCallID {
            out += #","tool_call_id":"#
            JSONValue.quote(toolCallID, into: &out)
        }
        out += "}"
    }
}
