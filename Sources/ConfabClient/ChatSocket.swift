import Foundation
import HummingbirdWSClient

/// An open `/chat/ws` socket (``ConfabClient/withChatSocket(_:)``): many turns at once, each
/// streamed as the same ``ChatEvent``s as `POST /chat/stream`, told apart by their request id.
///
/// A turn's stream ends after its ending (`finish`, `error` or `stopped`); a frame the server
/// refused (unknown session 404, busy 409, limits 429) ends it with a ``ConfabClientError``
/// instead, and nothing was stored. When the socket closes under a running turn, its stream ends
/// with ``ChatEvent/interrupted(reason:)`` and the server ends the turn as it ends an SSE stream
/// whose client left (`CONFAB_ON_DISCONNECT`).
public struct ChatSocket: Sendable {
    let writer: WebSocketOutboundWriter
    let router: ChatSocketRouter

    /// A turn on this socket: its request id (for ``stop(requestID:)``) and its events.
    public struct Turn: Sendable {
        public let requestID: String
        public let events: AsyncThrowingStream<ChatEvent, any Error>
    }

    /// Sends `message` as a turn in `sessionID`, or, when it is nil, in a new session playing
    /// `agentID` or `role` (the default persona when both are nil; the new session's id comes
    /// in the turn's ``ChatEvent/start(sessionID:messageID:userMessageID:)``). `requestID` must
    /// be unique among the socket's running turns; nil makes one.
    ///
    /// Leaving the stream before its ending (cancelling the task that reads it) sends `stop`,
    /// so the server stores the partial reply and frees the session.
    public func chat(_ message: String, sessionID: String? = nil, agentID: String? = nil, role: String? = nil,
                     requestID: String? = nil) async throws -> Turn {
        let id = requestID ?? router.makeRequestID()
        let (events, continuation) = AsyncThrowingStream<ChatEvent, any Error>.makeStream()
        try router.open(id, continuation)
        continuation.onTermination = { [router, writer] termination in
            guard case .cancelled = termination, router.forget(id) else { return }
            // The reader left early: tell the server, which would otherwise stream on to no one.
            Task { try? await Self.send(.stop(requestID: id), on: writer) }
        }
        do {
            try await Self.send(.chat(requestID: id, message: message, sessionID: sessionID, agentID: agentID, role: role), on: writer)
        } catch {
            router.forget(id)
            throw ConfabClientError.unreachable("could not send on the socket: \(error)")
        }
        return Turn(requestID: id, events: events)
    }

    /// Ends a running turn now; its stream then ends with ``ChatEvent/stopped(_:)`` and the
    /// server stores the partial reply.
    public func stop(requestID: String) async throws {
        try await Self.send(.stop(requestID: requestID), on: writer)
    }

    /// Sends `{"type":"ping"}`; the server's `pong` is not routed to any turn.
    public func ping() async throws {
        try await Self.send(.ping, on: writer)
    }

    private static func send(_ frame: ChatSocketFrame, on writer: WebSocketOutboundWriter) async throws {
        try await writer.writeTextMessage(String(decoding: try JSONEncoder().encode(frame), as: UTF8.self))
    }
}
