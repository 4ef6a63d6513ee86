/// A failure the integration report lists: in which phase, for whom, and what was said. An
/// `Error` so that a phase's outcomes can be `Result`s of it.
struct RunError: Error, Encodable, Equatable, Sendable {
    enum Phase: String, Encodable, Sendable {
        case user, agent, connection, turn, cleanup
    }

    var phase: Phase
    /// The username, when the failure is a user's.
    var user: String?
    /// The agent id, or for a failed creation the template it was to be made from.
    var agent: String?
    var template: String?
    /// 1-based, for turns.
    var turn: Int?
    /// For turns: the kind of failure.
    var kind: TurnFailure.Kind?
    var message: String

    init(_ phase: Phase, user: String? = nil, agent: String? = nil, template: String? = nil, turn: Int? = nil,
         kind: TurnFailure.Kind? = nil, message: String) {
        (self.phase, self.user, self.agent, self.template, self.turn, self.kind, self.message) =
            (phase, user, agent, template, turn, kind, message)
    }

    /// The error of a failed turn.
    init(_ record: TurnRecord, _ failure: TurnFailure) {
        self.init(.turn, user: record.user, agent: record.agent, template: record.template, turn: record.turn,
                  kind: failure.kind, message: failure.message)
    }
}
