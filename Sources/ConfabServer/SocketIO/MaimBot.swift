import ConfabCore
import Foundation

/// Answers a maim_message bot's messages for one user: each chat (a platform's group, or a
/// private chat with one person) is one Confab session, so the agent remembers the
/// conversation; the reply goes back in the shape the bot's client reads.
struct MaimBot: Sendable {
    let chat: ChatController
    let authenticator: BearerAuthenticator
    let user: SignedInUser
    let agentID: String?
    /// One message per sentence while the reply streams, instead of one when it is done.
    let streamReplies: Bool
    /// The API-server client sends a message again, with the same id, when it missed the ack.
    static let recent = RecentMessageIDs(keepSeconds: 300)

    /// The ack the API-server client waits for (sent for a repeated message too: it missed one).
    func received(_ message: MaimMessage) -> JSONValue? {
        guard message.mode == .apiServer, let id = message.msgID else { return nil }
        return MaimMessage.ack(of: id, ackMsgID: UUID().uuidString.lowercased(), time: Date().timeIntervalSince1970)
    }

    /// False for a message already taken (by its envelope id, for this user). Ids longer than
    /// any client makes are not remembered (such a message is answered, never de-duplicated).
    func isNew(_ message: MaimMessage) -> Bool {
        guard let id = message.msgID, id.utf8.count <= 128 else { return true }
        return Self.recent.insert(user.account.id + "\u{1f}" + id)
    }

    /// The session a chat is: the same for every message of the chat and the agent, per user
    /// (sessions are kept under the user's own keys, so no two users share one).
    func sessionID(_ message: MaimMessage) -> String {
        "mm" + APIKeySecret.sha256(message.conversationKey + "\u{1f}" + (agentID ?? "")).prefix(30)
    }

    /// Runs the turn and sends the reply (or what went wrong, as a message the people in the chat can read).
    func answer(_ message: MaimMessage, send: @escaping @Sendable (JSONValue) -> Void) async {
        let fields: [String: String?] = ["session_id": sessionID(message), "message": message.text, "agent_id": agentID]
        var pieces = 0
        func reply(_ text: String, id: String) {
            pieces += 1
            let messageID = streamReplies ? "\(id)-\(pieces)" : id
            send(message.reply(text, messageID: messageID, msgID: "srv_" + UUID().uuidString.lowercased(),
                               time: Date().timeIntervalSince1970))
        }
        guard !message.text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { return }
        do {
            let start = try await begin(fields)
            var text = Sentences()
            var failure: ErrorInfo?
            try await TurnRunner.stream(start.turn, onDisconnect: chat.validate.settings.onDisconnect) { event in
                switch event {
                case .text(let piece):
                    text.append(piece)
                    if streamReplies { text.takeSentences().forEach { reply($0, id: start.turn.replyID) } }
                case .error(let info, _): failure = info
                default: break
                }
            }
            if let rest = text.takeAll() { reply(rest, id: start.turn.replyID) }
            if let failure { reply("(Confab could not finish this reply: \(failure.message))", id: start.turn.replyID + "-error") }
        } catch is CancellationError {
        } catch {
            let info = (error as? APIError)?.info.message ?? "\(error)"
            reply("(Confab could not answer: \(info))", id: UUID().uuidString.lowercased())
        }
    }

    /// Begins the turn, counted against the user's limits like a request; while the chat's
    /// previous reply is still running (people write faster than a model answers), it waits its turn.
    private func begin(_ fields: [String: String?]) async throws -> ChatTurnStart {
        let deadline = ContinuousClock.now + .seconds(120)
        let user = try await authenticator.recheck(self.user, turnPath: "/ws")  // once: waiting is not another request
        while true {
            do {
                return try await chat.beginTurn(Owner.user(user), fields: { fields[$0] ?? nil }, sessions: .madeOnFirstUse)
            } catch let error as APIError where error.info.code == "session_busy" && ContinuousClock.now < deadline {
                try await Task.sleep(for: .milliseconds(250))
            }
        }
    }
}
