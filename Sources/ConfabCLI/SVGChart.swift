import Foundation

/// The report page's charts, drawn as inline SVG so the page needs nothing from the network:
/// a histogram of latencies and a bar chart of successes and failures per label.
enum SVGChart {
    static let width = 640.0
    static let height = 260.0
    /// Room for the axis labels.
    static let margin = (left: 48.0, right: 12.0, top: 28.0, bottom: 52.0)

    /// Bars of `histogram` from 0 ms; each bar says its range and count in its tooltip.
    static func histogram(_ histogram: Histogram, id: String, title: String) -> String {
        let bins = histogram.bins
        let largest = max(bins.map(\.count).max() ?? 0, 1)
        let plot = plotArea
        let barWidth = bins.isEmpty ? 0 : plot.width / Double(bins.count)
        var body = ""
        for (index, bin) in bins.enumerated() {
            let barHeight = plot.height * Double(bin.count) / Double(largest)
            let x = plot.x + Double(index) * barWidth
            body += rect(x: x + 1, y: plot.y + plot.height - barHeight, width: max(barWidth - 2, 1), height: barHeight, color: "#4a7bd0",
                         tooltip: "\(bin.lower.figure)–\(bin.upper.figure) ms: \(bin.count)")
        }
        // Axis labels at the ends and the middle, so the range reads without a legend.
        if let first = bins.first, let last = bins.last {
            let middle = bins[bins.count / 2]
            body += text(first.lower.figure, x: plot.x, y: plot.y + plot.height + 16, anchor: "start")
            body += text(middle.lower.figure, x: plot.x + Double(bins.count / 2) * barWidth, y: plot.y + plot.height + 16, anchor: "middle")
            body += text(last.upper.figure + " ms", x: plot.x + plot.width, y: plot.y + plot.height + 16, anchor: "end")
        } else {
            body += text("no successful turns", x: plot.x + plot.width / 2, y: plot.y + plot.height / 2, anchor: "middle")
        }
        body += text("\(largest)", x: plot.x - 6, y: plot.y + 4, anchor: "end")
        body += text("0", x: plot.x - 6, y: plot.y + plot.height, anchor: "end")
        return svg(id: id, title: title, body: axes(plot) + body)
    }

    /// A horizontal bar per label (labels of any length stay readable), stacked: successes
    /// (green) then failures (red), with `succeeded/total` after the bar.
    static func stackedBars(_ bars: [(label: String, succeeded: Int, failed: Int)], id: String, title: String) -> String {
        let largest = max(bars.map { $0.succeeded + $0.failed }.max() ?? 0, 1)
        let rowHeight = 22.0
        let labelWidth = 170.0
        let chartHeight = margin.top + Double(max(bars.count, 1)) * rowHeight + 12
        let barSpace = width - labelWidth - 70
        var body = ""
        for (index, bar) in bars.enumerated() {
            let y = margin.top + Double(index) * rowHeight
            let good = barSpace * Double(bar.succeeded) / Double(largest)
            let bad = barSpace * Double(bar.failed) / Double(largest)
            body += text(bar.label, x: labelWidth - 8, y: y + 15, anchor: "end")
            body += rect(x: labelWidth, y: y + 3, width: good, height: rowHeight - 6, color: "#3a9a5b",
                         tooltip: "\(bar.label): \(bar.succeeded) succeeded")
            body += rect(x: labelWidth + good, y: y + 3, width: bad, height: rowHeight - 6, color: "#d0463b",
                         tooltip: "\(bar.label): \(bar.failed) failed")
            body += text("\(bar.succeeded)/\(bar.succeeded + bar.failed)", x: labelWidth + good + bad + 6, y: y + 15, anchor: "start")
        }
        if bars.isEmpty { body += text("no turns", x: width / 2, y: margin.top + 15, anchor: "middle") }
        let axis = "<path d=\"M\(labelWidth.figure) \(margin.top.figure) V\((chartHeight - 12).figure)\" stroke=\"#555\" fill=\"none\"/>"
        return svg(id: id, title: title, height: chartHeight, body: axis + body)
    }

    private static var plotArea: (x: Double, y: Double, width: Double, height: Double) {
        (margin.left, margin.top, width - margin.left - margin.right, height - margin.top - margin.bottom)
    }

    private static func svg(id: String, title: String, height: Double = SVGChart.height, body: String) -> String {
        """
        <svg id="\(id)" class="chart" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 \(width.figure) \(height.figure)" \
        width="\(width.figure)" height="\(height.figure)" role="img" aria-label="\(HTML.escape(title))">\
        <title>\(HTML.escape(title))</title>\
        \(text(title, x: width / 2, y: 16, anchor: "middle", weight: "bold"))\(body)</svg>
        """
    }

    private static func axes(_ plot: (x: Double, y: Double, width: Double, height: Double)) -> String {
        let bottom = plot.y + plot.height
        return "<path d=\"M\(plot.x.figure) \(plot.y.figure) V\(bottom.figure) H\((plot.x + plot.width).figure)\" stroke=\"#555\" fill=\"none\"/>"
    }

    private static func rect(x: Double, y: Double, width: Double, height: Double, color: String, tooltip: String) -> String {
        guard height > 0 else { return "" }
        return "<rect x=\"\(x.figure)\" y=\"\(y.figure)\" width=\"\(width.figure)\" height=\"\(height.figure)\" fill=\"\(color)\">"
            + "<title>\(HTML.escape(tooltip))</title></rect>"
    }

    private static func text(_ content: String, x: Double, y: Double, anchor: String, weight: String = "normal") -> String {
        "<text x=\"\(x.figure)\" y=\"\(y.figure)\" text-anchor=\"\(anchor)\" font-size=\"11\" font-weight=\"\(weight)\" "
            + "font-family=\"sans-serif\">\(HTML.escape(content))</text>"
    }

}
