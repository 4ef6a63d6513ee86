import ConfabCore
import Foundation

/// A whole `chat.completion`, for `stream: false`: the reply's text, or the client's tool
/// calls with `finish_reason: "tool_calls"`, and the usage.
enum ChatCompletionBody {
    static func make(_ transcript: TurnTranscript, id: String, model: String, created: Int) -> JSONValue {
        var message: [String: JSONValue] = ["role": "assistant", "content": transcript.toolCalls.isEmpty || !transcript.text.isEmpty
            ? .string(transcript.text) : .null]
        if !transcript.toolCalls.isEmpty {
            message["tool_calls"] = .array(transcript.toolCalls.map {
                ["id": .string($0.id), "type": "function", "function": ["name": .string($0.name), "arguments": .string($0.arguments)]]
            })
        }
        var body: [String: JSONValue] = [
            "id": .string(id), "object": "chat.completion", "created": .number(Double(created)), "model": .string(model),
            "choices": [["index": 0, "message": .object(message), "finish_reason": .string(transcript.finishReason), "logprobs": .null]],
        ]
        if let usage = transcript.usage ?? transcript.ending?.usage { body["usage"] = usage.openAI }
        return .object(body)
    }

    /// A new completion's id and creation time.
    static func identity() -> (id: String, created: Int) {
        ("chatcmpl-" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased(), Int(Date().timeIntervalSince1970))
    }
}
