/// Values counted in equal-width bins for the report's latency charts. The width is a round
/// figure fitting about `bins` bins between the smallest and largest value, and the first bin
/// starts at the round figure below the smallest, so that a narrow spread (replies all near
/// 700 ms) still shows its shape.
struct Histogram: Equatable, Sendable {
    struct Bin: Equatable, Sendable {
        var lower: Double
        var upper: Double
        var count: Int
    }

    var bins: [Bin]

    init(_ values: [Double], bins count: Int) {
        precondition(count > 0)
        guard let smallest = values.min(), let largest = values.max() else {
            bins = []
            return
        }
        let spread = largest - smallest
        let width = Self.niceWidth(spread > 0 ? spread / Double(count) : Swift.max(largest, 1) / Double(count))
        let origin = (smallest / width).rounded(.down) * width
        let used = Int(((largest - origin) / width).rounded(.down)) + 1
        var counts = Array(repeating: 0, count: used)
        for value in values {
            counts[Swift.min(Int((value - origin) / width), used - 1)] += 1
        }
        bins = counts.enumerated().map {
            Bin(lower: origin + Double($0.offset) * width, upper: origin + Double($0.offset + 1) * width, count: $0.element)
        }
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
