/// Values counted in equal-width bins from 0 to just above the largest, for the report's
/// latency charts. Starting at 0 keeps the charts of two runs comparable by eye.
struct Histogram: Equatable, Sendable {
    struct Bin: Equatable, Sendable {
        var lower: Double
        var upper: Double
        var count: Int
    }

    var bins: [Bin]

    init(_ values: [Double], bins count: Int) {
        precondition(count > 0)
        guard let largest = values.max(), largest > 0 else {
            bins = values.isEmpty ? [] : [Bin(lower: 0, upper: 1, count: values.count)]
            return
        }
        let width = Self.niceWidth(largest / Double(count))
        let used = Int((largest / width).rounded(.down)) + 1
        var counts = Array(repeating: 0, count: used)
        for value in values {
            counts[Swift.min(Int(Swift.max(value, 0) / width), used - 1)] += 1
        }
        bins = counts.enumerated().map { Bin(lower: Double($0.offset) * width, upper: Double($0.offset + 1) * width, count: $0.element) }
    }

    /// The bin width rounded up to 1, 2 or 5 times a power of ten, so the axis reads in round figures.
    static func niceWidth(_ raw: Double) -> Double {
        guard raw > 0 else { return 1 }
        var magnitude = 1.0
        while magnitude * 10 <= raw { magnitude *= 10 }
        while magnitude > raw { magnitude /= 10 }
        for step in [1.0, 2, 5, 10] where step * magnitude >= raw { return step * magnitude }
        return 10 * magnitude
    }
}
