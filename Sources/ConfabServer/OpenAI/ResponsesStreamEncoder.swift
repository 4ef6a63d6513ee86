import ConfabCore
import HTTPTypes
import NIOCore

/// OpenAI's Responses stream, in the order the SDK's `responses.stream()` helper insists on:
/// `response.created` first, `response.in_progress`, the output message and its text part
/// added before any `response.output_text.delta`, then the text, part and item `done`, and
/// the ending: `response.completed`, `response.incomplete` (the reply was cut short) or
/// `response.failed` (with the error). Every event is named (`event:`) and carries `type` and
/// a `sequence_number`; there is no `[DONE]`.
struct ResponsesStreamEncoder: StreamEncoder {
    static var headers: HTTPFields { .eventStream }

    /// The response as it grows; its id is known once the turn has begun.
    private var response: ResponseObject
    private let keptIn: String?
    private var sequence = 0

    /// `keptIn`: the session the response is stored in, nil when it is kept nowhere.
    init(_ response: ResponseObject, keptIn session: String?) {
        self.response = response
        self.keptIn = session
    }

    mutating func encode(_ event: StreamEvent, into framer: inout some StreamFramer) {
        switch event {
        case .text(let text):
            response.text += text
            let (item, sequence) = (response.itemID, next())
            framer.payload(named: "response.output_text.delta") { buffer in
                buffer.writeString(#"{"type":"response.output_text.delta","sequence_number":"#)
                buffer.writeString(String(sequence))
                buffer.writeString(#","item_id":"#)
                buffer.writeJSONString(item)
                buffer.writeString(#","output_index":0,"content_index":0,"logprobs":[],"delta":"#)
                buffer.writeJSONString(text)
                buffer.writeString("}")
            }
        case .start(_, let message, _):
            response.id = OpenAIIDs.response(session: keptIn, message: message)
            response.itemID = OpenAIIDs.item(message)
            if let keptIn { response.conversationID = OpenAIIDs.conversation(keptIn) }
            emit("response.created", ["response": response.json], into: &framer)
            emit("response.in_progress", ["response": response.json], into: &framer)
            emit("response.output_item.added", ["output_index": 0, "item": ConversationItem.message(
                id: response.itemID, role: "assistant", text: "", complete: false, inProgress: true)], into: &framer)
            emit("response.content_part.added", partEvent(text: ""), into: &framer)
        case .usage(let usage):
            response.usage = usage
        case .keepAlive:
            framer.comment("keep-alive")
        case .finish(let ending):
            finish(ending, error: nil, into: &framer)
        case .error(let info, let ending):
            finish(ending, error: info, into: &framer)
        default:
            break
        }
    }

    private mutating func finish(_ ending: TurnEnding, error: ErrorInfo?, into framer: inout some StreamFramer) {
        response.end(ending, error: error)
        emit("response.output_text.done", ["item_id": .string(response.itemID), "output_index": 0, "content_index": 0,
                                           "text": .string(response.text), "logprobs": []], into: &framer)
        emit("response.content_part.done", partEvent(text: response.text), into: &framer)
        emit("response.output_item.done", ["output_index": 0, "item": response.outputItem], into: &framer)
        let name = switch response.status {
        case .failed: "response.failed"
        case .incomplete: "response.incomplete"
        default: "response.completed"
        }
        emit(name, ["response": response.json], into: &framer)
    }

    private func partEvent(text: String) -> [String: JSONValue] {
        ["item_id": .string(response.itemID), "output_index": 0, "content_index": 0,
         "part": ["type": "output_text", "text": .string(text), "annotations": []]]
    }

    private mutating func next() -> Int {
        defer { sequence += 1 }
        return sequence
    }

    private mutating func emit(_ type: String, _ fields: [String: JSONValue], into framer: inout some StreamFramer) {
        var object = fields
        object["type"] = .string(type)
        object["sequence_number"] = .number(Double(next()))
        framer.payload(named: type) { $0.writeJSON(.object(object)) }
    }
}
