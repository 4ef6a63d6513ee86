/// What `confab integration` was asked to do, as its report records it.
struct IntegrationParameters: Encodable, Equatable, Sendable {
    var users: Int
    var agentsPerUser: Int
    var messagesPerConversation: Int
    /// Every username of the run starts with this (`<prefix>-u<n>`); the clean-up deletes by it.
    var prefix: String
    var url: String
    var turnTimeoutSeconds: Double
    /// Whether the run deletes its users at the end (`--no-cleanup` turns it off).
    var cleanup: Bool
    /// The `--topics` file, when one replaced the built-in prompts.
    var topicsFile: String?

    var conversations: Int { users * agentsPerUser }
    var turns: Int { conversations * messagesPerConversation }
}

/// How a phase went: attempts, successes, failures and its wall-clock time.
struct PhaseCounts: Encodable, Equatable, Sendable {
    var attempted: Int
    var succeeded: Int
    var failed: Int
    var seconds: Double

    init(attempted: Int, succeeded: Int, seconds: Double) {
        (self.attempted, self.succeeded, self.failed, self.seconds) = (attempted, succeeded, attempted - succeeded, seconds)
    }

    init(attempted: Int, succeeded: Int, since started: ContinuousClock.Instant) {
        self.init(attempted: attempted, succeeded: succeeded, seconds: (ContinuousClock.now - started).seconds)
    }
}

extension Duration {
    /// In seconds, to the millisecond.
    var seconds: Double {
        ((Double(components.seconds) + Double(components.attoseconds) / 1e18) * 1000).rounded() / 1000
    }

    /// In milliseconds, to a tenth.
    var milliseconds: Double {
        LatencySummary.rounded(Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15)
    }
}
