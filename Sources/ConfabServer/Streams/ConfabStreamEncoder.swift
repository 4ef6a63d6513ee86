import ConfabCore
import HTTPTypes
import NIOCore

/// Confab's own stream, for the page's EventSource and simple clients. A piece of text stays
/// `{"content":"..."}` so pages written for it keep working; every other event is an object
/// with a `type`: `start` (session_id, message_id, user_message_id), `step_start`, `reasoning`
/// (text), `tool_input_start`, `tool_call` (the whole input), `tool_result` / `tool_error`,
/// `step_finish`, `usage`, and the ending, `finish` or `error` (with today's fields: status,
/// finish_reason, message_id, usage, reason), then `[DONE]`. Part boundaries and argument
/// pieces are left out: this format has no use for them.
struct ConfabStreamEncoder: StreamEncoder {
    static var headers: HTTPFields { .eventStream }
    /// Tool names by call id: results carry only the id.
    private var toolNames: [String: String] = [:]

    mutating func encode(_ event: StreamEvent, into framer: inout some StreamFramer) {
        switch event {
        case .text(let text):
            framer.payload { buffer in
                buffer.writeString("{\"content\":")
                buffer.writeJSONString(text)
                buffer.writeString("}")
            }
        case .keepAlive:
            framer.comment("keep-alive")
        case .start(let session, let message, let userMessage):
            framer.payload { $0.writeJSON(["type": "start", "session_id": .string(session), "message_id": .string(message),
                                           "user_message_id": .string(userMessage)]) }
        case .stepStart(let step):
            framer.payload { $0.writeJSON(["type": "step_start", "step": .number(Double(step))]) }
        case .reasoning(let text):
            framer.payload { $0.writeJSON(["type": "reasoning", "text": .string(text)]) }
        case .toolInputStart(let call):
            toolNames[call.id] = call.name
            framer.payload { $0.writeJSON(["type": "tool_input_start", "tool_call_id": .string(call.id), "name": .string(call.name),
                                           "step": .number(Double(call.step))]) }
        case .toolInputAvailable(let call, let input):
            toolNames[call.id] = call.name
            framer.payload { $0.writeJSON(["type": "tool_call", "tool_call_id": .string(call.id), "name": .string(call.name),
                                           "input": input, "step": .number(Double(call.step))]) }
        case .toolOutput(let id, let output):
            framer.payload { $0.writeJSON(["type": "tool_result", "tool_call_id": .string(id), "name": .string(toolNames[id] ?? ""),
                                           "output": output]) }
        case .toolError(let id, let message):
            framer.payload { $0.writeJSON(["type": "tool_error", "tool_call_id": .string(id), "name": .string(toolNames[id] ?? ""),
                                           "error": .string(message)]) }
        case .stepFinish(let step, let reason):
            framer.payload { $0.writeJSON(["type": "step_finish", "step": .number(Double(step)), "finish_reason": .string(reason)]) }
        case .usage(let usage):
            framer.payload { $0.writeJSON(["type": "usage", "usage": usage.json]) }
        case .finish(let ending):
            framer.payload { $0.writeJSON(Self.ending(ending, error: nil)) }
            framer.done()
        case .error(let info, let ending):
            framer.payload { $0.writeJSON(Self.ending(ending, error: info)) }
            framer.done()
        case .textStart, .textEnd, .reasoningStart, .reasoningEnd, .toolInputDelta:
            break
        }
    }

    private static func ending(_ ending: TurnEnding, error: ErrorInfo?) -> JSONValue {
        var body: [String: JSONValue] = [
            "type": .string(error == nil ? "finish" : "error"), "message_id": .string(ending.messageID),
            "status": .string(ending.status.rawValue), "finish_reason": .string(ending.finishReason ?? ending.status.rawValue),
        ]
        if let error { body["error"] = error.json }
        if let usage = ending.usage { body["usage"] = usage.json }
        if let reason = ending.reason { body["reason"] = .string(reason) }
        return .object(body)
    }
}

extension Usage {
    var json: JSONValue {
        var object: [String: JSONValue] = ["prompt_tokens": .number(Double(promptTokens)),
                                           "completion_tokens": .number(Double(completionTokens)),
                                           "total_tokens": .number(Double(totalTokens))]
        if estimated == true { object["estimated"] = .bool(true) }
        return .object(object)
    }
}

extension ErrorInfo {
    var json: JSONValue {
        var object: [String: JSONValue] = ["message": .string(message), "type": .string(type), "code": .string(code)]
        if let retryAfter { object["retry_after"] = .number(Double(retryAfter)) }
        return .object(object)
    }
}
