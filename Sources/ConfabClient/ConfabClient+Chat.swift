import AsyncHTTPClient
import NIOCore
import ServerSentEvents

/// Streaming a reply (`POST /chat/stream`).
extension ConfabClient {
    /// Sends `message` to the session and streams the reply as it is made.
    ///
    /// Opening the stream is retried by ``retry`` (connect failures, 503 and 429, after
    /// `Retry-After` when given), like EventSource reconnects; any other refusal (401, 404,
    /// 409 `session_busy`) ends the stream with a ``ConfabClientError`` at once. Once the reply
    /// has begun nothing is retried: a connection that breaks ends the stream with
    /// ``ChatEvent/interrupted(reason:)``, and the server keeps what it had sent as a partial
    /// reply. Resuming a broken stream is not offered yet (resumable streams come later).
    /// Cancelling the consuming task closes the connection; the server then stores the reply
    /// as partial and stops the model.
    public func chat(sessionID: String, message: String, agentID: String? = nil) -> AsyncThrowingStream<ChatEvent, any Error> {
        let body = StreamRequest(sessionID: sessionID, message: message, agentID: agentID)
        return AsyncThrowingStream { continuation in
            let task = Task {
                do {
                    let response = try await retry.run { () async throws(ConfabClientError) -> HTTPClientResponse in
                        var streamRequest = try request(.POST, "/chat/stream", body: body)
                        streamRequest.headers.replaceOrAdd(name: "Accept", value: "text/event-stream")
                        return try await open(streamRequest, timeout: requestTimeout)
                    }
                    try await Self.relay(response.body, to: continuation)
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Parses the body's events into `continuation` until `[DONE]`; a body that ends or fails
    /// before it yields ``ChatEvent/interrupted(reason:)``.
    private static func relay(_ body: HTTPClientResponse.Body,
                              to continuation: AsyncThrowingStream<ChatEvent, any Error>.Continuation) async throws {
        var parser = ServerSentEventParser()
        do {
            for try await chunk in body {
                for event in parser.feed(chunk.readableBytesView) {
                    if event.data == ChatEvent.donePayload { return }
                    continuation.yield(try ChatEvent(payload: event.data))
                }
            }
            continuation.yield(.interrupted(reason: "the stream ended before [DONE]"))
        } catch let error as ConfabClientError {
            throw error
        } catch {
            try Task.checkCancellation()
            continuation.yield(.interrupted(reason: String(describing: error)))
        }
    }
}

private struct StreamRequest: Encodable {
    var sessionID: String
    var message: String
    var agentID: String?

    enum CodingKeys: String, CodingKey {
        case message
        case sessionID = "session_id"
        case agentID = "agent_id"
    }
}
