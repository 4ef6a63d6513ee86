import ConfabClient

extension ChatCommand {
    /// Sends one message and shows the reply: streamed text for people, one JSON object per
    /// reply with `--json`. A reply that ends in an error or breaks off throws ``ReplyFailure``.
    struct Turn {
        let client: ConfabClient
        let output: Output
        let sessionID: String
        let agentID: String?

        func send(_ message: String) async throws {
            var reply = Reply(sessionID: sessionID)
            for try await event in client.chat(sessionID: sessionID, message: message, agentID: agentID) {
                reply.apply(event)
                if case .text(let piece) = event, !output.json { output.write(piece) }
                if case .toolCall(let call) = event { output.log("[tool \(call.name)]") }
            }
            if output.json {
                try output.result(reply) { _ in "" }
            } else {
                output.write("\n")
            }
            if let failure = reply.failure { throw ReplyFailure(description: failure) }
        }
    }

    /// A reply as `--json` prints it.
    struct Reply: Encodable {
        var sessionID: String
        var messageID: String?
        var content = ""
        /// `complete`, `partial`, `error`, or `interrupted` when the connection broke.
        var status = "unknown"
        var finishReason: String?
        var usage: TokenUsage?
        var error: ErrorDetail?
        /// Why the reply is not whole, for people.
        var failure: String?

        init(sessionID: String) {
            self.sessionID = sessionID
        }

        mutating func apply(_ event: ChatEvent) {
            switch event {
            case .start(_, let messageID, _): self.messageID = messageID
            case .text(let piece): content += piece
            case .usage(let usage): self.usage = usage
            case .finish(let ending): end(ending)
            case .error(let ending, let detail):
                end(ending)
                error = detail
                failure = "the reply failed: \(detail.message) (\(detail.code))"
            case .interrupted(let reason):
                status = "interrupted"
                failure = "the stream broke off (\(reason)); a server still up has stored the partial reply"
            default: break
            }
        }

        private mutating func end(_ ending: ChatEvent.TurnEnding) {
            messageID = ending.messageID
            status = ending.status
            finishReason = ending.finishReason
            usage = ending.usage ?? usage
        }

        enum CodingKeys: String, CodingKey {
            case content, status, usage, error
            case sessionID = "session_id"
            case messageID = "message_id"
            case finishReason = "finish_reason"
        }
    }
}
