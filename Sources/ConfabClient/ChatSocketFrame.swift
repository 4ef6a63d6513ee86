/// A frame a client sends on `/chat/ws` (docs/WEBSOCKET.md): one JSON object per text message.
struct ChatSocketFrame: Encodable, Sendable {
    var type: String
    var requestID: String?
    var message: String?
    var sessionID: String?
    var agentID: String?
    var role: String?

    /// A turn: in `sessionID`, or in a new session playing `agentID` or `role` when it is nil.
    static func chat(requestID: String, message: String, sessionID: String?, agentID: String?, role: String?) -> ChatSocketFrame {
        ChatSocketFrame(type: "chat", requestID: requestID, message: message, sessionID: sessionID, agentID: agentID, role: role)
    }

    /// Ends a running turn now; the server stores its partial reply.
    static func stop(requestID: String) -> ChatSocketFrame {
        ChatSocketFrame(type: "stop", requestID: requestID)
    }

    /// Answered with `{"type":"pong"}`.
    static let ping = ChatSocketFrame(type: "ping")

    enum CodingKeys: String, CodingKey {
        case type, message, role
        case requestID = "request_id"
        case sessionID = "session_id"
        case agentID = "agent_id"
    }
}
