import Foundation

/// The figures of one run at one concurrency level, as printed and written to JSON.
struct Figures: Encodable, Sendable {
    var turns = 0
    var errors = 0
    var turnsPerSecond = 0.0
    var ttftP50Ms = 0.0
    var ttftP99Ms = 0.0
    var turnP50Ms = 0.0
    var turnP99Ms = 0.0
    /// Most streams open at the upstream at once during the run.
    var maxOpenStreams = 0
    /// CPU the load generator itself used in the run.
    var loadGeneratorCPUSeconds = 0.0
    /// CPU the test upstream used per 1,000 turns in the run (with --upstream-pid).
    var upstreamCPUSecondsPer1000Turns: Double?
    /// The test upstream's peak memory in the run (with --upstream-pid), for scale.
    var upstreamPeakRSSMB: Double?
    // Confab's own, from /proc, Redis INFO and its /metrics; nil for the floor.
    var cpuSecondsPer1000Turns: Double?
    var peakRSSMB: Double?
    var rssPerOpenStreamKB: Double?
    var peakOpenFiles: Int?
    /// All commands Redis ran, those inside scripts included (INFO commandstats).
    var redisCommandsPerTurn: Double?
    /// Script calls (EVALSHA/EVAL) Redis ran (INFO commandstats).
    var redisScriptsPerTurn: Double?
    /// Writes Confab made to Redis (its own count); each is one round trip.
    var redisRoundTripsPerTurn: Double?

    init() {}

    init(_ samples: RunSamples) {
        turns = samples.turns
        errors = samples.errors
        turnsPerSecond = Double(samples.turns) / max(samples.elapsed.seconds, 0.001)
        ttftP50Ms = samples.firstText.percentile(0.50)
        ttftP99Ms = samples.firstText.percentile(0.99)
        turnP50Ms = samples.total.percentile(0.50)
        turnP99Ms = samples.total.percentile(0.99)
    }
}

/// One level: Confab beside the floor.
struct Level: Encodable, Sendable {
    var concurrency: Int
    /// The reply the upstream gave at this level.
    var reply = ""
    /// What kind of level it is, as the table names it ("" for the plain workload).
    var kind = ""
    var confab: Figures
    var floor: Figures
    var ttftOverFloorP50Ms: Double { confab.ttftP50Ms - floor.ttftP50Ms }
    var ttftOverFloorP99Ms: Double { confab.ttftP99Ms - floor.ttftP99Ms }
    var turnsPerSecondOfFloor: Double { floor.turnsPerSecond > 0 ? confab.turnsPerSecond / floor.turnsPerSecond : 0 }

    enum CodingKeys: String, CodingKey { case concurrency, reply, kind, confab, floor, difference }
    struct Difference: Encodable { var ttftOverFloorP50Ms, ttftOverFloorP99Ms, turnsPerSecondOfFloor: Double }

    init(concurrency: Int, confab: Figures, floor: Figures) {
        self.concurrency = concurrency
        self.confab = confab
        self.floor = floor
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(concurrency, forKey: .concurrency)
        try container.encode(reply, forKey: .reply)
        try container.encode(kind, forKey: .kind)
        try container.encode(confab, forKey: .confab)
        try container.encode(floor, forKey: .floor)
        try container.encode(Difference(ttftOverFloorP50Ms: ttftOverFloorP50Ms, ttftOverFloorP99Ms: ttftOverFloorP99Ms,
                                        turnsPerSecondOfFloor: turnsPerSecondOfFloor), forKey: .difference)
    }
}

/// The whole run: where it ran, the workload, and each level.
struct Report: Encodable, Sendable {
    var date: String
    var machine: String
    var workload: String
    var secondsPerLevel: Double
    var idleRSSMB: Double
    var idleRSSAfterMB: Double
    var levels: [Level]

    /// The table printed at the end of a run (and pasted into docs/PERFORMANCE.md).
    var table: String {
        func f(_ value: Double?, _ digits: Int = 1) -> String { value.map { String(format: "%.\(digits)f", $0) } ?? "-" }
        var lines = [
            "| streams | turns/s Confab / floor (%) | TTFT p50 ms Confab / floor (+) | TTFT p99 ms Confab / floor (+) | turn p50 / p99 ms | errors | CPU s / 1k turns Confab (upstream) | peak RSS MB | KB / open stream | Redis per turn: round trips / scripts / commands |",
            "|---:|---|---|---|---|---:|---:|---:|---:|---|",
        ]
        for level in levels {
            let (c, fl) = (level.confab, level.floor)
            let kind = level.kind.isEmpty ? "" : " " + level.kind
            lines.append("| \(level.concurrency)\(kind) (open \(c.maxOpenStreams)) "
                + "| \(f(c.turnsPerSecond)) / \(f(fl.turnsPerSecond)) (\(f(level.turnsPerSecondOfFloor * 100, 0))%) "
                + "| \(f(c.ttftP50Ms)) / \(f(fl.ttftP50Ms)) (\(f(level.ttftOverFloorP50Ms))) "
                + "| \(f(c.ttftP99Ms)) / \(f(fl.ttftP99Ms)) (\(f(level.ttftOverFloorP99Ms))) "
                + "| \(f(c.turnP50Ms)) / \(f(c.turnP99Ms)) | \(c.errors) / \(fl.errors) | \(f(c.cpuSecondsPer1000Turns, 2)) (\(f(c.upstreamCPUSecondsPer1000Turns, 2))) "
                + "| \(f(c.peakRSSMB)) | \(f(c.rssPerOpenStreamKB)) "
                + "| \(f(c.redisRoundTripsPerTurn, 2)) / \(f(c.redisScriptsPerTurn, 2)) / \(f(c.redisCommandsPerTurn, 1)) |")
        }
        lines.append("")
        lines.append("Idle RSS: \(f(idleRSSMB)) MB at start, \(f(idleRSSAfterMB)) MB after the run. Reply: \(workload); "
            + "held levels: \(levels.first { $0.reply.hasPrefix("held") }?.reply.dropFirst(11) ?? "none"). Tool levels: the scout persona, two parallel tool "
            + "calls then a second model call (floor: one plain upstream call). \(f(secondsPerLevel)) s per level and target.")
        return lines.joined(separator: "\n")
    }
}

extension Duration {
    var seconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
    var ms: Double { seconds * 1000 }
}

extension Array where Element == Duration {
    /// The nearest-rank percentile, in milliseconds.
    func percentile(_ p: Double) -> Double {
        guard !isEmpty else { return 0 }
        let sorted = self.sorted()
        let rank = Int((p * Double(sorted.count)).rounded(.up)) - 1
        return sorted[Swift.min(Swift.max(rank, 0), sorted.count - 1)].ms
    }
}
