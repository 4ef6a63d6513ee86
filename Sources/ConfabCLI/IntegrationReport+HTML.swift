/// The report as a self-contained HTML page (inline CSS and SVG, no script, nothing fetched):
/// the summary tables, the latency histograms, successes per agent template, and the errors.
extension IntegrationReport {
    /// Errors beyond this many are counted, not listed (the JSON has them all).
    static let errorsShown = 200

    func html() -> String {
        let succeeded = turns.filter(\.succeeded)
        let charts = [
            SVGChart.histogram(Histogram(succeeded.compactMap(\.replyMs), bins: 20), id: "reply-histogram",
                               title: "Whole reply latency (ms), successful turns"),
            SVGChart.histogram(Histogram(succeeded.compactMap(\.firstTokenMs), bins: 20), id: "first-token-histogram",
                               title: "Time to first token (ms), successful turns"),
            SVGChart.stackedBars(websocket.perTemplate.map { ($0.template, $0.succeeded, $0.failed) }, id: "template-successes",
                                 title: "Turns per agent template: succeeded and failed"),
        ]
        return """
            <!DOCTYPE html>
            <html lang="en"><head><meta charset="utf-8">
            <title>Confab integration \(HTML.escape(testID))</title>
            <style>
            body { font-family: sans-serif; margin: 2em; color: #222; }
            table { border-collapse: collapse; margin: 1em 0; }
            th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
            th:first-child, td:first-child, .errors td, .errors th { text-align: left; }
            .errors td { white-space: nowrap; } .errors td:last-child { white-space: normal; min-width: 22em; }
            .ok { color: #2c7a47; } .failed { color: #b3261e; }
            .chart { display: block; margin: 1em 0; border: 1px solid #eee; }
            </style></head><body>
            <h1>Confab integration run <code>\(HTML.escape(testID))</code></h1>
            <p class="\(success ? "ok" : "failed")"><strong>\(HTML.escape(resultLine))</strong></p>
            <p>\(HTML.escape(startedAt)) to \(HTML.escape(endedAt)) (\(durationSeconds.figure) s) against
            <code>\(HTML.escape(parameters.url))</code>: \(parameters.users) user(s) × \(parameters.agentsPerUser) agent(s) ×
            \(parameters.messagesPerConversation) message(s), prefix <code>\(HTML.escape(parameters.prefix))</code>,
            turn timeout \(parameters.turnTimeoutSeconds.figure) s.</p>
            <h2>Summary</h2>
            \(Self.table(phaseTable))
            \(Self.table(latencyTable))
            <p>Messages: \(websocket.messagesSent) sent, \(websocket.messagesReceived) replies received.
            \(HTML.escape(cleanupLine))</p>
            <h2>Charts</h2>
            \(charts.joined(separator: "\n"))
            <h2>Errors (\(errors.count))</h2>
            \(errorTable)
            </body></html>

            """
    }

    private static func table(_ table: Table) -> String {
        let head = "<tr>" + table.headers.map { "<th>\(HTML.escape($0))</th>" }.joined() + "</tr>"
        let rows = table.rows.map { "<tr>" + $0.map { "<td>\(HTML.escape($0))</td>" }.joined() + "</tr>" }
        return "<table>" + head + rows.joined() + "</table>"
    }

    private var errorTable: String {
        guard !errors.isEmpty else { return "<p>None.</p>" }
        let rows = errors.prefix(Self.errorsShown).map { error in
            [error.phase.rawValue, error.user ?? "", error.agent ?? "", error.template ?? "", error.turn.map(String.init) ?? "",
             error.kind?.rawValue ?? "", error.message]
        }
        let more = errors.count > Self.errorsShown ? "<p>… and \(errors.count - Self.errorsShown) more in the JSON report.</p>" : ""
        return "<div class=\"errors\">" + Self.table(Table(headers: ["PHASE", "USER", "AGENT", "TEMPLATE", "TURN", "KIND", "MESSAGE"], rows: rows))
            + "</div>" + more
    }
}
