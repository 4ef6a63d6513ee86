import NIOCore

/// WebSocket framing of encoded events: each payload is one text message. On Confab's socket,
/// where several turns share the socket, every payload object is tagged with its turn's
/// `request_id`; OpenAI's socket carries one response at a time and no tag.
struct WebSocketFramer: StreamFramer {
    /// `{"request_id":"…"` — written before the payload, whose own `{` becomes the comma.
    let tag: String?
    private(set) var messages: [ByteBuffer] = []

    init(tag: String?) {
        self.tag = tag
    }

    mutating func payload(_ write: (inout ByteBuffer) -> Void) {
        var buffer = ByteBufferAllocator().buffer(capacity: 96)
        guard let tag else {
            write(&buffer)
            messages.append(buffer)
            return
        }
        buffer.writeString(tag)
        let brace = buffer.writerIndex
        write(&buffer)
        // Encoders write objects: `{` turns into `,` (or a space before an empty object's `}`).
        let next = buffer.getInteger(at: brace + 1, as: UInt8.self)
        buffer.setInteger(next == UInt8(ascii: "}") ? UInt8(ascii: " ") : UInt8(ascii: ","), at: brace)
        messages.append(buffer)
    }

    /// The event's name is in its `type` already.
    mutating func payload(named name: String, _ write: (inout ByteBuffer) -> Void) {
        payload(write)
    }

    /// WebSocket pings keep the connection alive; no message is needed.
    mutating func comment(_ text: String) {}

    /// A turn's ending event is its last message: there is no `[DONE]`.
    mutating func done() {}

    /// The tag for a request id: `{"request_id":"r1"`.
    static func tag(requestID: String) -> String {
        var buffer = ByteBuffer(string: "{\"request_id\":")
        buffer.writeJSONString(requestID)
        return String(buffer: buffer)
    }
}
