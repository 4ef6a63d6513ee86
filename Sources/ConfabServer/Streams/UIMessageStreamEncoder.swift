import ConfabCore
import HTTPTypes
import NIOCore

/// The Vercel AI SDK's UI message stream, v1 (what `useChat` reads): `start` with the message
/// id, `start-step`/`finish-step` per model call, `text-start`/`-delta`/`-end` with one id,
/// `reasoning-*` likewise, `tool-input-start`/`-delta`/`-available`, `tool-output-available` /
/// `-error`, then `finish` with its `finishReason` and the usage in `messageMetadata`, or `error`
/// with `errorText` (then `finish`), then `[DONE]`. Clients from ai 5.0.92 and 6.x validate every
/// chunk strictly: no field they do not know, and never a `null` (docs/AI-SDK.md).
struct UIMessageStreamEncoder: StreamEncoder {
    static var headers: HTTPFields {
        var fields = HTTPFields.eventStream
        fields[HTTPField.Name("x-vercel-ai-ui-message-stream")!] = "v1"
        return fields
    }

    /// The text or reasoning part deltas belong to.
    private var openText: String?
    private var openReasoning: String?
    private var sessionID = ""

    mutating func encode(_ event: StreamEvent, into framer: inout some StreamFramer) {
        switch event {
        case .text(let text):
            guard let id = openText else { return }
            framer.payload { buffer in
                buffer.writeString("{\"type\":\"text-delta\",\"id\":")
                buffer.writeJSONString(id)
                buffer.writeString(",\"delta\":")
                buffer.writeJSONString(text)
                buffer.writeString("}")
            }
        case .keepAlive:
            framer.comment("keep-alive")
        case .start(let session, let message, _):
            sessionID = session
            framer.payload { $0.writeJSON(["type": "start", "messageId": .string(message)]) }
        case .stepStart:
            framer.payload { $0.writeJSON(["type": "start-step"]) }
        case .textStart(let id):
            openText = id
            framer.payload { $0.writeJSON(["type": "text-start", "id": .string(id)]) }
        case .textEnd(let id):
            openText = nil
            framer.payload { $0.writeJSON(["type": "text-end", "id": .string(id)]) }
        case .reasoningStart(let id):
            openReasoning = id
            framer.payload { $0.writeJSON(["type": "reasoning-start", "id": .string(id)]) }
        case .reasoning(let text):
            guard let id = openReasoning else { return }
            framer.payload { $0.writeJSON(["type": "reasoning-delta", "id": .string(id), "delta": .string(text)]) }
        case .reasoningEnd(let id):
            openReasoning = nil
            framer.payload { $0.writeJSON(["type": "reasoning-end", "id": .string(id)]) }
        case .toolInputStart(let call):
            // providerExecuted: Confab ran the tool, so useChat must not call the app's onToolCall.
            framer.payload { $0.writeJSON(["type": "tool-input-start", "toolCallId": .string(call.id), "toolName": .string(call.name),
                                           "providerExecuted": true]) }
        case .toolInputDelta(let id, let text):
            framer.payload { $0.writeJSON(["type": "tool-input-delta", "toolCallId": .string(id), "inputTextDelta": .string(text)]) }
        case .toolInputAvailable(let call, let input):
            framer.payload { $0.writeJSON(["type": "tool-input-available", "toolCallId": .string(call.id),
                                           "toolName": .string(call.name), "input": input, "providerExecuted": true]) }
        case .toolOutput(let id, let output):
            framer.payload { $0.writeJSON(["type": "tool-output-available", "toolCallId": .string(id), "output": output,
                                           "providerExecuted": true]) }
        case .toolError(let id, let message):
            framer.payload { $0.writeJSON(["type": "tool-output-error", "toolCallId": .string(id), "errorText": .string(message),
                                           "providerExecuted": true]) }
        case .stepFinish:
            framer.payload { $0.writeJSON(["type": "finish-step"]) }
        case .usage:
            break  // no chunk of its own: it goes in the finish's messageMetadata
        case .finish(let ending):
            framer.payload { $0.writeJSON(finish(ending, reason: Self.finishReason(ending.finishReason))) }
            framer.done()
        case .error(let info, let ending):
            framer.payload { $0.writeJSON(["type": "error", "errorText": .string(info.message)]) }
            framer.payload { $0.writeJSON(finish(ending, reason: "error", error: info)) }
            framer.done()
        }
    }

    private func finish(_ ending: TurnEnding, reason: String, error: ErrorInfo? = nil) -> JSONValue {
        var metadata: [String: JSONValue] = ["sessionId": .string(sessionID), "status": .string(ending.status.rawValue)]
        if let usage = ending.usage { metadata["usage"] = usage.json }
        if let error { metadata["error"] = error.json }
        if let reason = ending.reason { metadata["reason"] = .string(reason) }
        return ["type": "finish", "finishReason": .string(reason), "messageMetadata": .object(metadata)]
    }

    /// OpenAI's finish reasons in the AI SDK's words.
    static func finishReason(_ openAI: String?) -> String {
        switch openAI {
        case "stop", nil: "stop"
        case "length": "length"
        case "content_filter": "content-filter"
        case "tool_calls": "tool-calls"
        case "error": "error"
        default: "other"
        }
    }
}
