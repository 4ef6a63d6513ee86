import ConfabCore

/// A message a client sends on `/chat/ws`, read and checked (docs/WEBSOCKET.md).
enum ChatSocketFrame: Sendable {
    /// Begin a turn; the fields are those of `POST /chat/stream`.
    case chat(requestID: String, fields: [String: String])
    case stop(requestID: String)
    case ping

    static let chatFields: Set<String> = ["type", "request_id", "session_id", "message", "role", "agent_id", "format", "user_id"]

    init(_ text: String, validate: Validation) throws {
        let fields = try validate.jsonFields(text, Self.chatFields)
        switch fields["type"] {
        case "chat": self = .chat(requestID: try Self.requestID(fields["request_id"]), fields: fields)
        case "stop": self = .stop(requestID: try Self.requestID(fields["request_id"]))
        case "ping": self = .ping
        case nil: throw APIError.missing("type")
        case let other?:
            throw APIError(.badRequest, code: "unknown_type", "type \(other.debugDescription) is not one of chat, stop, ping")
        }
    }

    /// 1 to 128 printable ASCII characters: the client's own name for the turn.
    static func requestID(_ raw: String?) throws -> String {
        guard let raw else { throw APIError.missing("request_id") }
        guard (1...128).contains(raw.utf8.count), raw.utf8.allSatisfy({ (0x20...0x7e).contains($0) }) else {
            throw APIError(.badRequest, code: "invalid_request_id", "request_id must be 1 to 128 printable ASCII characters")
        }
        return raw
    }

    /// The request id of a message that was refused, when it has a usable one, to tag the error.
    static func requestID(in text: String) -> String? {
        guard case .object(let members)? = try? JSONValue.parse(text), let id = members["request_id"]?.string else { return nil }
        return try? requestID(id)
    }
}
