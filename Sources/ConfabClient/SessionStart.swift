/// A new session, as `POST /chat/start` answers it.
public struct SessionStart: Codable, Sendable, Equatable {
    public var sessionID: String
    /// Whose session it is: the caller's user id.
    public var userID: String
    public var welcomeMessage: String
    public var persona: String
    public var session: Session

    enum CodingKeys: String, CodingKey {
        case persona, session
        case sessionID = "session_id"
        case userID = "user_id"
        case welcomeMessage = "welcome_message"
    }
}
