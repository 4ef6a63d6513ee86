import Logging

/// What one turn did, told once as it ends: one log line and the metrics.
struct TurnReport {
    var session: String
    var persona: String
    var model: String
    var reply: ChatMessage
    /// From the start of the stream to the first piece of text; nil when none came.
    var firstToken: Duration?
    var duration: Duration
    /// Pieces of text relayed to the client (one per upstream delta, usually one token).
    var pieces: Int

    var ending: TurnMetrics.Ending {
        switch reply.status {
        case .complete: .complete
        case .error: .error
        case .partial: reply.reason == "shutdown" ? .shutdown : .partial
        }
    }

    func record(_ metrics: TurnMetrics, logger: Logger) {
        metrics.ended(ending)
        if let firstToken { metrics.firstToken.recordNanoseconds(firstToken.nanoseconds) }
        metrics.duration.recordNanoseconds(duration.nanoseconds)
        metrics.tokens.increment(by: pieces)
        if let code = reply.error?.code { metrics.upstreamError(kind: code) }

        var metadata: Logger.Metadata = [
            "session": "\(session)", "persona": "\(persona)", "model": "\(model)",
            "ending": "\(ending.rawValue)", "message_id": "\(reply.id)",
            "ttft_ms": "\(firstToken.map { "\($0.milliseconds)" } ?? "-")",
            "duration_ms": "\(duration.milliseconds)", "tokens_relayed": "\(pieces)",
        ]
        if let reason = reply.reason ?? reply.error?.code { metadata["reason"] = "\(reason)" }
        if let usage = reply.usage {
            metadata["prompt_tokens"] = "\(usage.promptTokens)"
            metadata["completion_tokens"] = "\(usage.completionTokens)"
        }
        // Message text only when debugging: it is the user's data.
        if logger.logLevel <= .debug { metadata["reply"] = "\(reply.content)" }
        logger.info("turn ended", metadata: metadata)
    }
}
