@testable import ConfabCLI
import Testing

/// The report's figures: nearest-rank percentiles, and histogram bins of round widths.
@Suite struct LatencySummaryTests {
    @Test func percentilesAreNearestRank() {
        let summary = LatencySummary((1...100).map(Double.init).shuffled())
        #expect(summary.count == 100 && summary.average == 50.5)
        #expect(summary.p50 == 50 && summary.p95 == 95 && summary.p99 == 99 && summary.min == 1 && summary.max == 100)
        // Few values: p99 is the slowest, never a figure between two turns.
        let few = LatencySummary([120, 80, 100.04])
        #expect(few.p50 == 100 && few.p95 == 120 && few.p99 == 120 && few.average == 100)
        #expect(LatencySummary([7]).p99 == 7)
    }

    @Test func noValuesHaveNoFigures() {
        let empty = LatencySummary([])
        #expect(empty.count == 0 && empty.average == nil && empty.p50 == nil && empty.max == nil)
    }

    @Test func histogramBinsAreRoundAndHoldEveryValue() {
        let values = [0, 3, 49.9, 50, 99, 100, 180, 199.9]
        let histogram = Histogram(values, bins: 20)
        #expect(Histogram.niceWidth(9.995) == 10 && Histogram.niceWidth(0.3) == 0.5 && Histogram.niceWidth(120) == 200)
        #expect(histogram.bins.first?.lower == 0 && histogram.bins.allSatisfy { $0.upper - $0.lower == 10 })
        #expect(histogram.bins.map(\.count).reduce(0, +) == values.count)
        #expect(histogram.bins.last!.upper > 199.9)
        #expect(Histogram([], bins: 10).bins.isEmpty)
        #expect(Histogram([0, 0], bins: 10).bins == [.init(lower: 0, upper: 0.1, count: 2)])
        // A narrow spread gets narrow bins, from the round figure below the smallest value.
        let narrow = Histogram([654.6, 690, 757.4], bins: 20)
        #expect(narrow.bins.first?.lower == 650 && narrow.bins.first?.upper == 660 && narrow.bins.count == 11)
        #expect(narrow.bins.map(\.count).reduce(0, +) == 3 && narrow.bins.last!.upper > 757.4)
    }
}
