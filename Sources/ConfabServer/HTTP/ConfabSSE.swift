import ConfabCore
import Foundation
import HTTPTypes
import Hummingbird

/// Confab's SSE format for the browser's EventSource, one JSON object per `data:` line:
/// `{"session_id","message_id","user_message_id"}` first, then `{"content"}` per piece of text,
/// then `{"finish_reason","usage",...}` or `{"error":{...},...}`, then `[DONE]`; keep-alives are
/// `:` comment lines.
enum ConfabSSE {
    static let headers: HTTPFields = [
        .contentType: "text/event-stream",
        .cacheControl: "no-cache",
        HTTPTypes.HTTPField.Name("X-Accel-Buffering")!: "no",
        // Hummingbird closes the connection after an inbound-close-aware response; say so.
        .connection: "close",
    ]

    static func encode(_ event: StreamEvent) -> ByteBuffer {
        switch event {
        case .text(let text):
            // The hot path: one small object per token, escaped by hand.
            var buffer = ByteBuffer(string: "data: {\"content\":")
            appendJSONString(text, to: &buffer)
            buffer.writeString("}\n\n")
            return buffer
        case .keepAlive:
            return ByteBuffer(string: ": keep-alive\n\n")  // a comment: clients that parse every data line never see it
        case .start(let session, let message, let userMessage):
            return data(["session_id": session, "message_id": message, "user_message_id": userMessage])
        case .finish(let ending):
            return data(EndingBody(ending: ending, error: nil)) + done
        case .error(let info, let ending):
            return data(EndingBody(ending: ending, error: info)) + done
        }
    }

    static let done = ByteBuffer(string: "data: [DONE]\n\n")

    private struct EndingBody: Encodable {
        var ending: TurnEnding
        var error: ErrorInfo?

        enum CodingKeys: String, CodingKey {
            case error, status, reason, usage
            case finishReason = "finish_reason"
            case messageID = "message_id"
        }

        func encode(to encoder: any Encoder) throws {
            var c = encoder.container(keyedBy: CodingKeys.self)
            try c.encodeIfPresent(error, forKey: .error)
            try c.encode(ending.messageID, forKey: .messageID)
            try c.encode(ending.status.rawValue, forKey: .status)
            try c.encode(ending.finishReason ?? ending.status.rawValue, forKey: .finishReason)
            try c.encodeIfPresent(ending.usage, forKey: .usage)
            try c.encodeIfPresent(ending.reason, forKey: .reason)
        }
    }

    private static func data(_ value: some Encodable) -> ByteBuffer {
        var buffer = ByteBuffer(string: "data: ")
        buffer.writeBytes((try? JSONEncoder().encode(value)) ?? Data("{}".utf8))
        buffer.writeString("\n\n")
        return buffer
    }

    static func appendJSONString(_ string: String, to buffer: inout ByteBuffer) {
        buffer.writeInteger(UInt8(ascii: "\""))
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "\""): buffer.writeString("\\\"")
            case UInt8(ascii: "\\"): buffer.writeString("\\\\")
            case UInt8(ascii: "\n"): buffer.writeString("\\n")
            case UInt8(ascii: "\r"): buffer.writeString("\\r")
            case UInt8(ascii: "\t"): buffer.writeString("\\t")
            case 0..<0x20: buffer.writeString(String(format: "\\u%04x", byte))
            default: buffer.writeInteger(byte)
            }
        }
        buffer.writeInteger(UInt8(ascii: "\""))
    }
}

extension ByteBuffer {
    static func + (lhs: ByteBuffer, rhs: ByteBuffer) -> ByteBuffer {
        var result = lhs
        var rhs = rhs
        result.writeBuffer(&rhs)
        return result
    }
}
