import ConfabClient

/// One conversation of an integration run: a socket of its own to `/chat/ws` (so that a broken
/// socket fails one conversation, and "connections" counts real sockets), carrying its turns one
/// after another, each sent when the previous reply has ended. The first turn makes the session
/// playing the agent; the others continue it.
struct Conversation: Sendable {
    let made: IntegrationSetup.MadeAgent
    let prompts: [String]
    let turnTimeout: Duration
    let progress: SharedProgress

    /// The conversation's turns and counts.
    struct Result: Sendable {
        /// Nil when the socket opened; else why it did not (its turns are then `not_sent`).
        var connectionError: String?
        var records: [TurnRecord]
        /// `chat` frames sent.
        var messagesSent = 0
        /// Ending frames received (`finish`, `error`, `stopped`).
        var messagesReceived = 0
    }

    /// Never throws: every failure is in the records.
    func run() async -> Result {
        do {
            return try await made.user.client.withChatSocket { socket in
                var result = Result(records: [])
                var sessionID: String?
                for (index, prompt) in prompts.enumerated() {
                    let (record, observation) = await turn(index + 1, prompt, sessionID: sessionID, on: socket)
                    sessionID = sessionID ?? record.sessionID
                    if observation != nil { result.messagesSent += 1 }
                    if observation?.received == true { result.messagesReceived += 1 }
                    result.records.append(record)
                    progress.step(failed: !record.succeeded)
                }
                return result
            }
        } catch {
            let message = "the socket did not open: \(error)"
            let records = prompts.indices.map { record($0 + 1, sessionID: nil, failure: TurnFailure(kind: .notSent, message: message)) }
            records.forEach { _ in progress.step(failed: true) }
            return Result(connectionError: message, records: records)
        }
    }

    /// Sends one message and measures its reply; the observation is nil when it was not sent.
    private func turn(_ number: Int, _ prompt: String, sessionID: String?, on socket: ChatSocket) async -> (TurnRecord, TurnObservation?) {
        let started = ContinuousClock.now
        let turn: ChatSocket.Turn
        do {
            turn = try await socket.chat(prompt, sessionID: sessionID, agentID: sessionID == nil ? made.agent.id : nil)
        } catch {
            return (record(number, sessionID: sessionID, failure: TurnFailure(kind: .socketClosed, message: "not sent: \(error)")), nil)
        }
        let (observation, timedOut) = await watch(turn, on: socket, from: started)
        var record = record(number, sessionID: observation.sessionID ?? sessionID,
                            failure: observation.failure(timedOut: timedOut, timeout: turnTimeout))
        record.firstTokenMs = observation.firstToken?.milliseconds
        record.replyMs = observation.end?.milliseconds
        return (record, observation)
    }

    private enum Lap: Sendable {
        case observed(TurnObservation)
        case deadline
    }

    /// Reads the turn until its ending or the deadline. At the deadline it sends `stop` and
    /// gives the `stopped` ending a few seconds more, so that the session is free for the next
    /// turn; then it gives up on the turn.
    private func watch(_ turn: ChatSocket.Turn, on socket: ChatSocket, from started: ContinuousClock.Instant)
        async -> (TurnObservation, timedOut: Bool) {
        await withTaskGroup(of: Lap.self) { group in
            group.addTask { .observed(await TurnObservation(reading: turn.events, from: started)) }
            group.addTask { [turnTimeout] in try? await Task.sleep(for: turnTimeout); return .deadline }
            var timedOut = false
            while let lap = await group.next() {
                switch lap {
                case .observed(let observation):
                    group.cancelAll()
                    return (observation, timedOut)
                case .deadline where !timedOut:
                    timedOut = true
                    try? await socket.stop(requestID: turn.requestID)
                    group.addTask { try? await Task.sleep(for: .seconds(10)); return .deadline }
                case .deadline:
                    group.cancelAll()  // the reader then answers with what it saw
                }
            }
            return (TurnObservation(), timedOut)
        }
    }

    private func record(_ number: Int, sessionID: String?, failure: TurnFailure?) -> TurnRecord {
        TurnRecord(user: made.user.username, agent: made.agent.id, template: made.template.id, turn: number,
                   sessionID: sessionID, failure: failure)
    }
}
