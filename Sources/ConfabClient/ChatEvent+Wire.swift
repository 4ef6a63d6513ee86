import Foundation

/// Reading Confab's own stream format: each `data:` payload is `{"content": …}` for a piece of
/// text, a typed object (`{"type": "start", …}`) for anything else, or `[DONE]`.
extension ChatEvent {
    /// The payload that ends every stream.
    static let donePayload = "[DONE]"

    /// The event one `data:` payload carries.
    init(payload: String) throws(ConfabClientError) {
        let bytes = Data(payload.utf8)
        do {
            let wire = try JSONDecoder().decode(WireEvent.self, from: bytes)
            self = try Self.decode(wire, bytes: bytes)
        } catch let error as ConfabClientError {
            throw error
        } catch {
            throw .invalidResponse("stream event \(payload.prefix(200)): \(error)")
        }
    }

    private static func decode(_ wire: WireEvent, bytes: Data) throws -> ChatEvent {
        guard let type = wire.type else {
            guard let content = wire.content else { throw ConfabClientError.invalidResponse("an event without a type") }
            return .text(content)
        }
        func required<T>(_ value: T?, _ field: String) throws -> T {
            guard let value else { throw ConfabClientError.invalidResponse("a \(type) event without \(field)") }
            return value
        }
        switch type {
        case "start":
            return .start(sessionID: try required(wire.sessionID, "session_id"), messageID: try required(wire.messageID, "message_id"),
                          userMessageID: try required(wire.userMessageID, "user_message_id"))
        case "step_start":
            return .stepStart(step: try required(wire.step, "step"))
        case "reasoning":
            return .reasoning(try required(wire.text, "text"))
        case "tool_input_start":
            return .toolInputStart(id: try required(wire.toolCallID, "tool_call_id"), name: wire.name ?? "", step: wire.step ?? 0)
        case "tool_call":
            return .toolCall(ToolCall(id: try required(wire.toolCallID, "tool_call_id"), name: wire.name ?? "",
                                      input: wire.input ?? .null, step: wire.step ?? 0))
        case "tool_result":
            return .toolResult(id: try required(wire.toolCallID, "tool_call_id"), name: wire.name ?? "", output: wire.output ?? .null)
        case "tool_error":
            let message = try JSONDecoder().decode(ErrorField<String>.self, from: bytes).error
            return .toolError(id: try required(wire.toolCallID, "tool_call_id"), name: wire.name ?? "", message: message)
        case "step_finish":
            return .stepFinish(step: try required(wire.step, "step"), finishReason: wire.finishReason ?? "")
        case "usage":
            return .usage(try required(wire.usage, "usage"))
        case "finish":
            // A turn stopped on request ends in a finish whose reason says so.
            let ending = try ending(wire)
            return ending.reason == "stopped" ? .stopped(ending) : .finish(ending)
        case "error":
            let detail = try JSONDecoder().decode(ErrorField<ErrorDetail>.self, from: bytes).error
            return .error(try ending(wire), detail)
        default:
            return .other(type: type, try JSONDecoder().decode(JSONValue.self, from: bytes))
        }
    }

    private static func ending(_ wire: WireEvent) throws -> TurnEnding {
        guard let messageID = wire.messageID, let status = wire.status else {
            throw ConfabClientError.invalidResponse("an ending without message_id or status")
        }
        return TurnEnding(messageID: messageID, status: status, finishReason: wire.finishReason ?? status,
                          usage: wire.usage, reason: wire.reason)
    }
}

/// Every field any event has; each event reads its own. `error` is read apart, since it is a
/// string in `tool_error` and an object in `error`.
private struct WireEvent: Decodable {
    var type: String?
    var content: String?
    var text: String?
    var sessionID: String?
    var messageID: String?
    var userMessageID: String?
    var step: Int?
    var toolCallID: String?
    var name: String?
    var input: JSONValue?
    var output: JSONValue?
    var status: String?
    var finishReason: String?
    var usage: TokenUsage?
    var reason: String?

    enum CodingKeys: String, CodingKey {
        case type, content, text, step, name, input, output, status, usage, reason
        case sessionID = "session_id"
        case messageID = "message_id"
        case userMessageID = "user_message_id"
        case toolCallID = "tool_call_id"
        case finishReason = "finish_reason"
    }
}

private struct ErrorField<Value: Decodable>: Decodable {
    var error: Value
}
