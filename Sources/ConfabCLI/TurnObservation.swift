import ConfabClient

/// What one turn's stream showed the integration runner: the session, when the first text and
/// the ending came (from sending the `chat` frame), and how it ended.
struct TurnObservation: Sendable {
    enum Ending: Sendable {
        case finish(ChatEvent.TurnEnding)
        case error(ChatEvent.TurnEnding, ErrorDetail)
        case stopped(ChatEvent.TurnEnding)
        /// The socket closed or broke under the turn.
        case interrupted(String)
        /// The server refused the frame (`status` is what HTTP would have answered).
        case refused(ConfabClientError)
        /// A frame that could not be read.
        case unreadable(String)
    }

    var sessionID: String?
    var firstToken: Duration?
    var end: Duration?
    /// Nil when the reader was cancelled (at the deadline) before any ending came.
    var ending: Ending?

    init() {}

    /// Reads `events` to their end, or until the reading task is cancelled.
    init(reading events: AsyncThrowingStream<ChatEvent, any Error>, from started: ContinuousClock.Instant) async {
        do {
            for try await event in events {
                switch event {
                case .start(let session, _, _): sessionID = session
                case .text where firstToken == nil: firstToken = .now - started
                case .finish(let ending): end(.finish(ending), started)
                case .error(let ending, let detail): end(.error(ending, detail), started)
                case .stopped(let ending): end(.stopped(ending), started)
                case .interrupted(let reason): ending = .interrupted(reason)
                default: break
                }
            }
        } catch let error as ConfabClientError {
            if error.status != nil { ending = .refused(error) } else { ending = .unreadable(error.description) }
        } catch {
            ending = .unreadable(String(describing: error))
        }
    }

    private mutating func end(_ ending: Ending, _ started: ContinuousClock.Instant) {
        self.ending = ending
        end = .now - started
    }

    /// Whether an ending frame came from the server (a reply received, whole or not).
    var received: Bool {
        switch ending {
        case .finish, .error, .stopped: true
        default: false
        }
    }

    /// Why the turn failed; nil for a `finish` with status `complete` that came in time.
    func failure(timedOut: Bool, timeout: Duration) -> TurnFailure? {
        if timedOut {
            let first = firstToken.map { "the first token came after \($0.milliseconds.figure) ms" } ?? "no token came"
            return TurnFailure(kind: .timedOut, message: "no ending within \(timeout.seconds.figure) s (\(first)); sent stop")
        }
        switch ending {
        case .finish(let ending) where ending.status == "complete":
            return nil
        case .finish(let ending):
            return TurnFailure(kind: .incomplete, message: "finished with status \(ending.status)" + (ending.reason.map { " (\($0))" } ?? ""))
        case .error(_, let detail):
            return TurnFailure(kind: .errorEnding, message: "\(detail.message) (\(detail.code))")
        case .stopped(let ending):
            return TurnFailure(kind: .stopped, message: "stopped (\(ending.reason ?? ending.finishReason))")
        case .interrupted(let reason):
            return TurnFailure(kind: .socketClosed, message: reason)
        case .refused(let error):
            return TurnFailure(kind: .refused, message: error.description)
        case .unreadable(let reason):
            return TurnFailure(kind: .invalidFrame, message: reason)
        case nil:
            return TurnFailure(kind: .socketClosed, message: "the turn's stream ended without an ending")
        }
    }
}
