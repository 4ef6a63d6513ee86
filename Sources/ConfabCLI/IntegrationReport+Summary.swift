/// The report in short, as both the terminal summary and the HTML page show it.
extension IntegrationReport {
    /// Each phase: attempted, succeeded, failed, seconds.
    var phaseTable: Table {
        let ws = websocket
        return Table(headers: ["PHASE", "ATTEMPTED", "SUCCEEDED", "FAILED", "SECONDS"], rows: [
            ["users", "\(users.attempted)", "\(users.succeeded)", "\(users.failed)", users.seconds.figure],
            ["agents", "\(agents.total.attempted)", "\(agents.total.succeeded)", "\(agents.total.failed)", agents.total.seconds.figure],
            ["connections", "\(ws.scenarios)", "\(ws.connectionsOpened)", "\(ws.scenarios - ws.connectionsOpened)", "-"],
            ["turns", "\(ws.turnsPlanned)", "\(ws.turnsSucceeded)", "\(ws.turnsFailed)", ws.seconds.figure],
        ])
    }

    /// First token and whole reply of the successful turns, in milliseconds.
    var latencyTable: Table {
        func row(_ name: String, _ summary: LatencySummary) -> [String] {
            [name, "\(summary.count)"] + [summary.average, summary.p50, summary.p95, summary.p99, summary.min, summary.max]
                .map { $0.map(\.figure) ?? "-" }
        }
        return Table(headers: ["LATENCY (ms)", "TURNS", "AVG", "P50", "P95", "P99", "MIN", "MAX"],
                     rows: [row("first token", websocket.firstTokenMs), row("whole reply", websocket.replyMs)])
    }

    /// The clean-up in one line.
    var cleanupLine: String {
        guard cleanup.performed else { return "cleanup: skipped; to remove the run's users: \(cleanup.command)" }
        guard let deleted = cleanup.deleted else { return "cleanup: failed; to retry: \(cleanup.command)" }
        let verdict = cleanup.verified ? "verified, nothing left"
            : "NOT verified: \(cleanup.remainingUsers ?? 0) user(s) left, \(cleanup.usersStillSignedIn ?? 0) still signed in"
        return "cleanup: deleted \(deleted.users) user(s), \(deleted.tenants) tenant(s), \(deleted.agents) agent(s), "
            + "\(deleted.sessions) session(s), \(deleted.messages) message(s), \(deleted.keys) key(s); \(verdict)"
    }

    /// The verdict in one line.
    var resultLine: String {
        let ws = websocket
        let rate = (ws.successRate * 100).figure
        return success ? "result: success, all \(ws.turnsPlanned) turns succeeded (\(rate)%)"
            : "result: FAILED, \(ws.turnsSucceeded) of \(ws.turnsPlanned) turns succeeded (\(rate)%), \(errors.count) error(s) in the report"
    }

    /// The terminal summary: the tables and lines above.
    var summary: String {
        [
            "integration \(testID): \(parameters.users) user(s) × \(parameters.agentsPerUser) agent(s) × "
                + "\(parameters.messagesPerConversation) message(s), prefix \(parameters.prefix), \(durationSeconds.figure) s",
            "", phaseTable.render(empty: ""), "", latencyTable.render(empty: ""), "",
            "messages: \(websocket.messagesSent) sent, \(websocket.messagesReceived) replies received",
            cleanupLine, resultLine,
        ].joined(separator: "\n")
    }
}
