import ConfabClient

/// What `confab integration` writes to `--report` (and prints with `--json`): the run's
/// parameters, each phase's counts, the WebSocket results with their latencies, the clean-up,
/// every error and every turn. Keys are snake_case.
struct IntegrationReport: Encodable, Sendable {
    var testID: String
    /// ISO 8601, UTC.
    var startedAt: String
    var endedAt: String
    var durationSeconds: Double
    var parameters: IntegrationParameters
    var users: PhaseCounts
    var agents: AgentPhase
    var websocket: WebSocketResults
    var cleanup: CleanupResults
    /// Every user, agent and turn succeeded, and the clean-up (when asked for) was verified.
    var success: Bool
    var errors: [RunError]
    var turns: [TurnRecord]

    /// Agent creation, in all and per template.
    struct AgentPhase: Encodable, Sendable {
        var total: PhaseCounts
        var perTemplate: [TemplateCount]
    }

    /// Attempts and successes for one template (agents made, or turns that succeeded).
    struct TemplateCount: Encodable, Equatable, Sendable {
        var template: String
        var attempted: Int
        var succeeded: Int
        var failed: Int
    }

    /// The conversations over `/chat/ws`.
    struct WebSocketResults: Encodable, Sendable {
        /// Conversations planned: users × agents, one socket each.
        var scenarios: Int
        var connectionsOpened: Int
        var connectionsFailed: Int
        /// Conversations whose every turn succeeded.
        var conversationsSucceeded: Int
        var turnsPlanned: Int
        var turnsSucceeded: Int
        /// Planned turns that did not succeed, those never run (their agent or socket missing) included.
        var turnsFailed: Int
        /// `chat` frames sent.
        var messagesSent: Int
        /// Replies received: ending frames (`finish`, `error`, `stopped`).
        var messagesReceived: Int
        /// Of the successful turns: to the first `content` event, and to `finish`.
        var firstTokenMs: LatencySummary
        var replyMs: LatencySummary
        /// Successful turns over planned turns, 0 to 1.
        var successRate: Double
        var perTemplate: [TemplateCount]
        var seconds: Double
    }

    /// The clean-up by prefix and its verification.
    struct CleanupResults: Encodable, Sendable {
        var performed: Bool
        /// What the deletion reported (users, tenants, agents, keys, sessions, messages, Redis keys).
        var deleted: AdminDeletion.Counts?
        /// Users under the prefix that a second deletion still found (0 when verified).
        var remainingUsers: Int?
        /// Registered users of the run whose API key still answered `GET /api/v1/me` afterwards.
        var usersStillSignedIn: Int?
        var verified: Bool
        var seconds: Double?
        /// How to clean up by hand (after `--no-cleanup`, a failed clean-up, or a killed run).
        var command: String
    }
}
