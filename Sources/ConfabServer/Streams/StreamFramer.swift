import NIOCore
import ConfabCore

/// How encoded events go on the wire, apart from what they say: SSE today, WebSocket frames
/// later. An encoder writes each payload (one JSON object) into the framer's buffer.
protocol StreamFramer {
    /// Frames one payload, which `write` puts in the buffer.
    mutating func payload(_ write: (inout ByteBuffer) -> Void)
    /// Frames one payload under an event name (OpenAI's Responses stream names every event).
    mutating func payload(named name: String, _ write: (inout ByteBuffer) -> Void)
    /// Something for the connection only (a keep-alive); no client sees it as data.
    mutating func comment(_ text: String)
    /// The end of the stream (`[DONE]`).
    mutating func done()
}

/// Server-Sent Events: `data: <payload>\n\n` per event, keep-alives as `:` comment lines (clients
/// that parse every data line never see them), and `data: [DONE]` at the end.
struct SSEFramer: StreamFramer {
    /// Room for a token's event without growing (one allocation per event).
    var buffer = ByteBufferAllocator().buffer(capacity: 64)

    mutating func payload(_ write: (inout ByteBuffer) -> Void) {
        buffer.writeString("data: ")
        write(&buffer)
        buffer.writeString("\n\n")
    }

    mutating func payload(named name: String, _ write: (inout ByteBuffer) -> Void) {
        buffer.writeString("event: ")
        buffer.writeString(name)
        buffer.writeString("\n")
        payload(write)
    }

    mutating func comment(_ text: String) {
        buffer.writeString(": \(text)\n\n")
    }

    mutating func done() {
        buffer.writeString("data: [DONE]\n\n")
    }
}

extension ByteBuffer {
    /// Writes a JSON value (keys sorted).
    mutating func writeJSON(_ value: JSONValue) {
        writeString(value.serialized)
    }

    /// Writes a JSON string literal, escaping by hand: the hot path, one per token.
    mutating func writeJSONString(_ string: String) {
        writeInteger(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): writeString("\\\"")
            case UInt8(ascii: "\\"): writeString("\\\\")
            case UInt8(ascii: "\n"): writeString("\\n")
            case UInt8(ascii: "\r"): writeString("\\r")
            case UInt8(ascii: "\t"): writeString("\\t")
            case 0..<0x20: writeString("\\u00" + (byte < 0x10 ? "0" : "") + String(byte, radix: 16))
            default: writeInteger(byte)
            }
        }
        writeInteger(UInt8(ascii: "\""))
    }
}
