/// What a turn tells its client, in order: `start`, any number of `text`, then either `finish`
/// or `error` (the error carries the ending too). Each wire format is an encoder over these.
public enum StreamEvent: Sendable, Equatable {
    /// The session, the id the reply will be stored under, and the stored user message's id.
    case start(sessionID: String, messageID: String, userMessageID: String)
    case text(String)
    /// Nothing to say yet; sent while the model is silent so proxies keep the stream open.
    case keepAlive
    /// The reply ended normally; carries the finish reason and usage.
    case finish(TurnEnding)
    /// The reply ended early: the model failed or the service is shutting down.
    case error(ErrorInfo, TurnEnding)
}

/// How a turn ended, as stored with the reply.
public struct TurnEnding: Sendable, Equatable {
    public var messageID: String
    public var status: ChatMessage.Status
    public var finishReason: String?
    public var usage: Usage?
    /// client_disconnected or shutdown, for partial replies.
    public var reason: String?
}
