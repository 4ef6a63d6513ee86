/// The average and percentiles of a set of latencies in milliseconds, as the integration report
/// gives them; each figure to a tenth of a millisecond, nil when there are no values.
struct LatencySummary: Encodable, Equatable, Sendable {
    var count: Int
    var average: Double?
    var p50: Double?
    var p95: Double?
    var p99: Double?
    var min: Double?
    var max: Double?

    init(_ values: [Double]) {
        let sorted = values.sorted()
        count = sorted.count
        guard !sorted.isEmpty else { return }
        average = Self.rounded(sorted.reduce(0, +) / Double(sorted.count))
        p50 = Self.rounded(Self.percentile(50, ofSorted: sorted))
        p95 = Self.rounded(Self.percentile(95, ofSorted: sorted))
        p99 = Self.rounded(Self.percentile(99, ofSorted: sorted))
        min = Self.rounded(sorted[0])
        max = Self.rounded(sorted[sorted.count - 1])
    }

    /// The nearest-rank percentile: the smallest value with at least `p` percent of the values at
    /// or below it. Always one of the values (no interpolation), so a p99 of few turns is the
    /// slowest of them rather than a figure no turn took.
    static func percentile(_ p: Double, ofSorted sorted: [Double]) -> Double {
        precondition(!sorted.isEmpty && (0...100).contains(p))
        let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
        return sorted[Swift.max(rank, 1) - 1]
    }

    static func rounded(_ value: Double) -> Double {
        (value * 10).rounded() / 10
    }
}
