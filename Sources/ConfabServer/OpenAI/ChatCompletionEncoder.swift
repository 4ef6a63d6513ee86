import ConfabCore
import HTTPTypes
import NIOCore

/// OpenAI's `chat.completion.chunk` stream, as the `openai` SDK and Open WebUI's client read it:
/// every chunk with `id`, `object`, `created`, `model` and `choices[0].index`; the role first,
/// then the text; the client's tool calls as `delta.tool_calls` by index; the finish reason in
/// a chunk of its own; the usage in a last chunk with no choices when `include_usage` asked for
/// it; a failure as `{"error": {…}}`; then `[DONE]`. No `event:`, `id:` or `retry:` lines, which
/// the SDK would try to parse as JSON. Tools Confab runs itself are not shown: to this client
/// they are not tool calls to answer.
struct ChatCompletionEncoder: StreamEncoder {
    static var headers: HTTPFields { .eventStream }

    let id: String
    let model: String
    let created: Int
    let includeUsage: Bool
    let clientTools: Bool
    /// The index of each of the client's tool calls, by id, in the order they began.
    private var callIndex: [String: Int] = [:]

    init(id: String, model: String, created: Int, includeUsage: Bool, clientTools: Bool) {
        (self.id, self.model, self.created, self.includeUsage, self.clientTools) = (id, model, created, includeUsage, clientTools)
    }

    mutating func encode(_ event: StreamEvent, into framer: inout some StreamFramer) {
        switch event {
        case .text(let text):
            framer.payload { buffer in
                writeHead(&buffer)
                buffer.writeString(#"[{"index":0,"delta":{"content":"#)
                buffer.writeJSONString(text)
                buffer.writeString(#"},"finish_reason":null}]}"#)
            }
        case .start:
            chunk(["role": "assistant", "content": ""], into: &framer)
        case .reasoning(let text):
            chunk(["reasoning_content": .string(text)], into: &framer)
        case .toolInputStart(let call) where clientTools:
            let index = callIndex.count
            callIndex[call.id] = index
            chunk(["tool_calls": [["index": .number(Double(index)), "id": .string(call.id), "type": "function",
                                   "function": ["name": .string(call.name), "arguments": ""]]]], into: &framer)
        case .toolInputDelta(let id, let text) where clientTools:
            guard let index = callIndex[id] else { return }
            chunk(["tool_calls": [["index": .number(Double(index)), "function": ["arguments": .string(text)]]]], into: &framer)
        case .keepAlive:
            framer.comment("keep-alive")
        case .finish(let ending):
            let reason = callIndex.isEmpty ? Self.finishReason(ending.finishReason) : "tool_calls"
            framer.payload { $0.writeJSON(object(choices: [["index": 0, "delta": [:], "finish_reason": .string(reason)]])) }
            if includeUsage, let usage = ending.usage {
                framer.payload { $0.writeJSON(object(choices: [], usage: usage.openAI)) }
            }
            framer.done()
        case .error(let info, _):
            framer.payload { $0.writeJSON(["error": info.openAI]) }
            framer.done()
        default:
            break
        }
    }

    private func chunk(_ delta: JSONValue, into framer: inout some StreamFramer) {
        framer.payload { $0.writeJSON(object(choices: [["index": 0, "delta": delta, "finish_reason": .null]])) }
    }

    private func object(choices: [JSONValue], usage: JSONValue? = nil) -> JSONValue {
        var body: [String: JSONValue] = ["id": .string(id), "object": "chat.completion.chunk", "created": .number(Double(created)),
                                         "model": .string(model), "choices": .array(choices)]
        if let usage { body["usage"] = usage }
        return .object(body)
    }

    /// The hot path's chunk head, written by hand: the head's keys sorted as `writeJSON` sorts
    /// them, then `choices` (clients do not mind the order; the bench finds text chunks by it).
    private func writeHead(_ buffer: inout ByteBuffer) {
        buffer.writeString(#"{"created":"#)
        buffer.writeString(String(created))
        buffer.writeString(#","id":"#)
        buffer.writeJSONString(id)
        buffer.writeString(#","model":"#)
        buffer.writeJSONString(model)
        buffer.writeString(#","object":"chat.completion.chunk","choices":"#)
    }

    /// OpenAI's finish reasons as the model server gave them; anything else is `stop`.
    static func finishReason(_ reason: String?) -> String {
        switch reason {
        case "length", "content_filter", "tool_calls": reason!
        default: "stop"
        }
    }
}

extension Usage {
    /// OpenAI's usage object.
    var openAI: JSONValue {
        ["prompt_tokens": .number(Double(promptTokens)), "completion_tokens": .number(Double(completionTokens)),
         "total_tokens": .number(Double(totalTokens))]
    }
}

extension ErrorInfo {
    /// OpenAI's error object: `message`, `type`, `param`, `code`.
    var openAI: JSONValue {
        ["message": .string(message), "type": .string(type), "param": .null, "code": .string(code)]
    }
}
