@testable import ConfabCLI
@testable import ConfabClient
import Foundation
import Testing

/// The integration report: built from the phases' results, written as snake_case JSON, and
/// drawn as a self-contained HTML page with its charts.
@Suite struct IntegrationReportTests {
    static let parameters = IntegrationParameters(users: 1, agentsPerUser: 2, messagesPerConversation: 2, prefix: "it-x",
                                                  url: "http://127.0.0.1:1", turnTimeoutSeconds: 120, cleanup: true)

    static func record(_ agent: String, template: String, turn: Int, failure: TurnFailure? = nil) -> TurnRecord {
        TurnRecord(user: "it-x-u1", agent: agent, template: template, turn: turn, sessionID: "s-\(agent)",
                   firstTokenMs: failure == nil ? 50 + Double(turn) : nil, replyMs: failure == nil ? 200 + Double(turn) : nil, failure: failure)
    }

    static func report(failing: Bool, verified: Bool = true) -> IntegrationReport {
        let failure = failing ? TurnFailure(kind: .errorEnding, message: "the model crashed (upstream_error)") : nil
        let conversations = [
            Conversation.Result(records: [record("agt_a", template: "caring-friend", turn: 1), record("agt_a", template: "caring-friend", turn: 2)],
                                messagesSent: 2, messagesReceived: 2),
            Conversation.Result(records: [record("agt_b", template: "creative-partner", turn: 1),
                                          record("agt_b", template: "creative-partner", turn: 2, failure: failure)],
                                messagesSent: 2, messagesReceived: 2),
        ]
        let deleted = AdminDeletion.Counts(users: 1, tenants: 1, agents: 2, keys: 1, sessions: 2, messages: 8, redisKeys: 20)
        let cleanup = IntegrationReport.CleanupResults(performed: true, deleted: deleted, remainingUsers: verified ? 0 : 1,
                                                       usersStillSignedIn: 0, verified: verified, seconds: 0.1, command: "confab cleanup --prefix it-x")
        return IntegrationReport(testID: "abc", started: Date(timeIntervalSince1970: 0), ended: Date(timeIntervalSince1970: 2.5),
                                 parameters: parameters, users: PhaseCounts(attempted: 1, succeeded: 1, seconds: 0.2),
                                 agents: PhaseCounts(attempted: 2, succeeded: 2, seconds: 0.1), madeAgents: [],
                                 conversations: conversations, websocketSeconds: 1.5, cleanup: cleanup, errors: [])
    }

    @Test func countsTurnsAndLatencies() {
        let report = Self.report(failing: true)
        #expect(!report.success && report.websocket.turnsSucceeded == 3 && report.websocket.turnsFailed == 1)
        #expect(report.websocket.successRate == 0.75 && report.websocket.conversationsSucceeded == 1)
        #expect(report.websocket.connectionsOpened == 2 && report.websocket.messagesSent == 4)
        #expect(report.websocket.firstTokenMs.count == 3 && report.websocket.replyMs.max == 202)
        #expect(report.errors == [RunError(.turn, user: "it-x-u1", agent: "agt_b", template: "creative-partner", turn: 2,
                                           kind: .errorEnding, message: "the model crashed (upstream_error)")])
        #expect(report.websocket.perTemplate.map(\.template) == ["caring-friend", "creative-partner"])
        #expect(report.websocket.perTemplate[1].failed == 1)
        #expect(Self.report(failing: false).success && !Self.report(failing: false, verified: false).success)
    }

    @Test func jsonHasSnakeCaseKeys() throws {
        let object = try JSONSerialization.jsonObject(with: try Self.report(failing: false).json()) as! [String: Any]
        #expect(object["test_id"] as? String == "abc" && object["duration_seconds"] as? Double == 2.5)
        #expect((object["started_at"] as? String)?.hasPrefix("1970-01-01T00:00:00") == true)
        let websocket = object["websocket"] as! [String: Any]
        #expect((websocket["first_token_ms"] as! [String: Any])["p95"] as? Double == 52)
        #expect(websocket["success_rate"] as? Double == 1)
        let cleanup = object["cleanup"] as! [String: Any]
        #expect((cleanup["deleted"] as! [String: Any])["redis_keys"] as? Int == 20 && cleanup["verified"] as? Bool == true)
        #expect((object["turns"] as! [[String: Any]]).count == 4 && object["success"] as? Bool == true)
        #expect((object["parameters"] as! [String: Any])["agents_per_user"] as? Int == 2)
    }

    @Test func htmlIsSelfContainedWithItsCharts() {
        let html = Self.report(failing: true).html()
        for id in ["reply-histogram", "first-token-histogram", "template-successes"] {
            #expect(html.contains("<svg id=\"\(id)\""))
        }
        #expect(!html.contains("http://cdn") && !html.contains("<script") && !html.contains("src="))
        #expect(html.contains("the model crashed (upstream_error)") && html.contains("FAILED"))
        #expect(IntegrationReport.htmlPath(for: "out/r.json") == "out/r.html" && IntegrationReport.htmlPath(for: "r") == "r.html")
        #expect(HTML.escape("<a href=\"x\">&'") == "&lt;a href=&quot;x&quot;&gt;&amp;&#39;")
    }

    @Test func topicsSuitTheTemplateAndVaryByUser() throws {
        let friend = AgentTemplate(id: "caring-friend", name: "Caring friend", description: "", systemPrompt: "", tools: [], openingTopics: [])
        let unknown = AgentTemplate(id: "new-kind", name: "New", description: "", systemPrompt: "", tools: [], openingTopics: ["Own topic"])
        let table = TopicTable.builtIn
        #expect(table.prompt(for: friend, turn: 0, user: 0) == "I had a rough day at work.")
        #expect(table.prompt(for: friend, turn: 0, user: 1) == table.prompt(for: friend, turn: 1, user: 0))
        #expect(table.prompt(for: unknown, turn: 3, user: 0) == "Own topic")
        let custom = TopicTable(prompts: ["*": ["a", "b [[fault=error-event]]"]])
        #expect(custom.prompt(for: friend, turn: 1, user: 0) == "b [[fault=error-event]]")
    }
}
