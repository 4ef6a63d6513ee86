import ConfabClient
import Foundation

extension IntegrationReport {
    /// The report of a run from what each phase produced.
    init(testID: String, started: Date, ended: Date, parameters: IntegrationParameters, users: PhaseCounts,
         agents: PhaseCounts, madeAgents: [IntegrationSetup.MadeAgent], conversations: [Conversation.Result],
         websocketSeconds: Double, cleanup: CleanupResults, errors setupErrors: [RunError]) {
        let records = conversations.flatMap(\.records)
        let succeeded = records.filter(\.succeeded)
        let turnErrors = records.compactMap { record in record.failure.flatMap { $0.kind == .notSent ? nil : RunError(record, $0) } }
        let connectionErrors = conversations.compactMap { result in
            result.connectionError.map { RunError(.connection, user: result.records.first?.user, agent: result.records.first?.agent,
                                                  template: result.records.first?.template, message: $0) }
        }
        let failedAgents = setupErrors.filter { $0.phase == .agent }.compactMap(\.template)

        self.testID = testID
        startedAt = Self.iso8601(started)
        endedAt = Self.iso8601(ended)
        durationSeconds = (ended.timeIntervalSince(started) * 1000).rounded() / 1000
        self.parameters = parameters
        self.users = users
        self.agents = AgentPhase(total: agents, perTemplate: Self.perTemplate(
            succeeded: madeAgents.map(\.template.id), failed: failedAgents))
        let opened = conversations.filter { $0.connectionError == nil }.count
        websocket = WebSocketResults(
            scenarios: parameters.conversations, connectionsOpened: opened, connectionsFailed: conversations.count - opened,
            conversationsSucceeded: conversations.filter { $0.connectionError == nil && $0.records.allSatisfy(\.succeeded) }.count,
            turnsPlanned: parameters.turns, turnsSucceeded: succeeded.count, turnsFailed: parameters.turns - succeeded.count,
            messagesSent: conversations.map(\.messagesSent).reduce(0, +),
            messagesReceived: conversations.map(\.messagesReceived).reduce(0, +),
            firstTokenMs: LatencySummary(succeeded.compactMap(\.firstTokenMs)), replyMs: LatencySummary(succeeded.compactMap(\.replyMs)),
            successRate: parameters.turns == 0 ? 0 : (Double(succeeded.count) / Double(parameters.turns) * 10_000).rounded() / 10_000,
            perTemplate: Self.perTemplate(succeeded: succeeded.map(\.template), failed: records.filter { !$0.succeeded }.map(\.template)),
            seconds: websocketSeconds)
        self.cleanup = cleanup
        errors = setupErrors + connectionErrors + turnErrors
        turns = records
        success = users.failed == 0 && agents.failed == 0 && succeeded.count == parameters.turns
            && (!parameters.cleanup || cleanup.verified)
    }

    /// Counts by template, in the order templates first appear.
    private static func perTemplate(succeeded: [String], failed: [String]) -> [TemplateCount] {
        var order: [String] = []
        var counts: [String: (succeeded: Int, failed: Int)] = [:]
        for (template, success) in succeeded.map({ ($0, true) }) + failed.map({ ($0, false) }) {
            if counts[template] == nil { order.append(template) }
            counts[template, default: (0, 0)].succeeded += success ? 1 : 0
            counts[template, default: (0, 0)].failed += success ? 0 : 1
        }
        return order.map { template in
            let count = counts[template]!
            return TemplateCount(template: template, attempted: count.succeeded + count.failed, succeeded: count.succeeded, failed: count.failed)
        }
    }

    static func iso8601(_ date: Date) -> String {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return formatter.string(from: date)
    }
}
