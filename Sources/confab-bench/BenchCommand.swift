import ArgumentParser
import Foundation
import NIOCore
import NIOPosix
import RedisClient

/// Drives a running Confab and the test upstream behind it at several concurrency levels, and
/// prints Confab's figures beside the floor's (the same workload straight to the upstream).
/// `scripts/bench.sh` starts what this needs; see docs/PERFORMANCE.md.
@main
struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "confab-bench",
                                                    abstract: "Load generator and report for Confab.")

    @Option(help: "Confab's address.") var confab = "http://127.0.0.1:8080"
    @Option(help: "The test upstream's address (the floor).") var upstream = "http://127.0.0.1:8081"
    @Option(help: "The Redis Confab uses, for INFO commandstats.") var redis = "redis://127.0.0.1:6379"
    @Option(help: "Confab's process id, for CPU and memory from /proc.") var confabPid: Int32
    @Option(help: "The test upstream's process id, for its CPU (what the floor costs).") var upstreamPid: Int32?
    @Option(help: "Concurrency levels, comma separated.") var levels = "1,32,256,2000"
    @Option(help: "Seconds per level and target.") var seconds = 10.0
    @Option(help: "Levels from this many streams on hold their streams open with slow replies, to measure memory per open stream.")
    var holdFrom = 2000
    @Option(help: "Directives for the held streams' replies (test upstream syntax).")
    var holdReply = "[[tokens=40]] [[delay=250]]"
    @Option(help: "The workload, as the report should describe it.") var workload = "40 tokens, 50 ms to the first, 5 ms each"
    @Option(help: "Levels of the tool workload (persona scout: two parallel tool calls, then a second model call), comma separated; empty for none.")
    var toolLevels = "32"
    @Option(help: "Levels where every virtual user is a registered user sending its own API key, comma separated; empty for none.")
    var authLevels = "256"
    @Option(help: "Levels of OpenAI's door (kept chat completions, each user with its own key), comma separated; empty for none.")
    var openaiLevels = "256"
    @Option(help: "Levels of Confab's WebSocket door (one socket per user, its turns in order on it), comma separated; empty for none.")
    var wsLevels = "256,512"
    @Option(help: "Levels of the page's stream in the AI SDK's format (format=ai-sdk), comma separated; empty for none.")
    var aisdkLevels = "256"
    @Option(help: "Levels with long replies and long histories (see --long-tokens), comma separated; empty for none.")
    var longLevels = "32"
    @Option(help: "Tokens per reply at the long levels.") var longTokens = 500
    @Option(help: "Characters added to each message at the long levels (the history window fills within a few turns).")
    var longPadding = 1500
    @Option(help: "Where to write the JSON report.") var json = "bench/results.json"

    func run() async throws {
        let group = MultiThreadedEventLoopGroup.singleton
        let confabClient = try StreamingClient(group: group, url: confab)
        let upstreamClient = try StreamingClient(group: group, url: upstream)
        let redisClient = RedisClient(configuration: try RedisConfiguration(url: redis, poolSize: 1))
        defer { Task { await redisClient.shutdown() } }
        let probe = ProcessProbe(pid: confabPid)
        let observer = Observer(probe: probe, upstreamProbe: upstreamPid.map(ProcessProbe.init), upstream: upstreamClient,
                                confab: confabClient, redis: redisClient)
        let idleRSS = probe.residentKB()

        // A short warm-up so first-use costs (connections, caches) stay out of the figures.
        _ = await BenchRun.run(.confab(confabClient), try await BenchRun.prepare(.confab(confabClient), users: 4, tag: "warm"), seconds: 1)
        var report = Report(date: ISO8601DateFormatter().string(from: Date()), machine: machineDescription(),
                            workload: workload, secondsPerLevel: seconds, idleRSSMB: Double(idleRSS) / 1024,
                            idleRSSAfterMB: 0, levels: [])
        for users in Self.levels(levels) {
            let directives = users >= holdFrom ? holdReply : ""
            let (floorTarget, confabTarget) = (Target.floor(upstreamClient, directives: directives),
                                               Target.confab(confabClient, directives: directives))
            let floorUsers = try await BenchRun.prepare(floorTarget, users: users, tag: "\(users)")
            let floor = try await observer.measure {
                await BenchRun.run(floorTarget, floorUsers, seconds: seconds)
            }
            let confabUsers = try await BenchRun.prepare(confabTarget, users: users, tag: "\(users)")
            let confabFigures = try await observer.measure(confabOwn: true) {
                await BenchRun.run(confabTarget, confabUsers, seconds: seconds)
            }
            var level = Level(concurrency: users, confab: confabFigures, floor: floor)
            level.reply = directives.isEmpty ? workload : "held open: \(directives)"
            level.kind = directives.isEmpty ? "" : "held"
            report.levels.append(level)
            print("level \(users): Confab \(Int(confabFigures.turnsPerSecond)) turns/s, floor \(Int(floor.turnsPerSecond)); "
                  + "TTFT p50 +\(String(format: "%.2f", level.ttftOverFloorP50Ms)) ms, p99 +\(String(format: "%.2f", level.ttftOverFloorP99Ms)) ms")
        }
        // Authenticated turns: the same workload as the plain levels, each turn with an API key
        // (one more Redis round trip: the key, the account and the rate meters in one script).
        for users in Self.levels(authLevels) {
            report.levels.append(try await variantLevel("auth", kind: "API key", users: users, Target.confab(confabClient, auth: true),
                                                        reply: "API key: \(workload), each turn with its own user's key", observer, upstreamClient))
        }
        // OpenAI's door: the same turn through /v1/chat/completions, kept in a session.
        for users in Self.levels(openaiLevels) {
            report.levels.append(try await variantLevel("openai", kind: "OpenAI door", users: users, Target.openAI(confabClient),
                                                        reply: "OpenAI door: \(workload), kept in the user's session", observer, upstreamClient))
        }
        // The AI SDK's stream: the same turns, each event in the UI message stream's shape.
        for users in Self.levels(aisdkLevels) {
            report.levels.append(try await variantLevel("aisdk", kind: "AI SDK", users: users, Target.confab(confabClient, format: "ai-sdk"),
                                                        reply: "AI SDK stream: \(workload)", observer, upstreamClient))
        }
        // Long replies and histories: per-token cost against the plain levels' per-turn cost.
        for users in Self.levels(longLevels) {
            let directives = "[[tokens=\(longTokens)]]"
            report.levels.append(try await variantLevel("long", kind: "long", users: users,
                                                        Target.confab(confabClient, directives: directives, padding: longPadding),
                                                        floor: Target.floor(upstreamClient, directives: directives, padding: longPadding),
                                                        reply: "long: \(longTokens) tokens a reply, \(longPadding) more characters a message",
                                                        observer, upstreamClient))
        }
        // The WebSocket door: the same turns on one socket per user (a user each, with its key).
        for users in Self.levels(wsLevels) {
            let floorUsers = try await BenchRun.prepare(Target.floor(upstreamClient), users: users, tag: "ws-\(users)")
            let floor = try await observer.measure { await BenchRun.run(Target.floor(upstreamClient), floorUsers, seconds: seconds) }
            let figures = try await SocketWorkload(http: confabClient).run(users: users, seconds: seconds, tag: "\(users)", probe: probe) {
                try await observer.measure(confabOwn: true, $0)
            }
            var level = Level(concurrency: users, confab: figures, floor: floor)
            level.reply = "WebSocket door: \(workload), one socket per user with its key"
            level.kind = "WebSocket"
            report.levels.append(level)
            print("ws level \(users): Confab \(Int(figures.turnsPerSecond)) turns/s, "
                  + "\(String(format: "%.1f", figures.rssPerOpenStreamKB ?? 0)) KB per open socket")
        }
        // Tool turns: the floor is one plain upstream call, so the gap is the tools' whole cost
        // (a second model call, two tool runs, the larger prompt and stored reply).
        for users in Self.levels(toolLevels) {
            report.levels.append(try await variantLevel("tool", kind: "tools", users: users,
                                                        Target.confab(confabClient, directives: "[[tools=parallel]]", role: "scout"),
                                                        reply: "tools: find_agents and current_time in parallel, then a second model call",
                                                        observer, upstreamClient))
        }
        try await Task.sleep(for: .seconds(1))
        report.idleRSSAfterMB = Double(probe.residentKB()) / 1024
        print("\n" + report.table)
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
        let url = URL(fileURLWithPath: json)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try encoder.encode(report).write(to: url)
        print("\nJSON: \(json)")
    }

    /// A level of a variant of the workload (`target`) beside the plain floor.
    private func variantLevel(_ name: String, kind: String, users: Int, _ target: Target, floor: Target? = nil, reply: String,
                              _ observer: Observer, _ upstream: StreamingClient) async throws -> Level {
        let floorTarget = floor ?? Target.floor(upstream)
        let floorUsers = try await BenchRun.prepare(floorTarget, users: users, tag: "\(name)-\(users)")
        let floor = try await observer.measure { await BenchRun.run(floorTarget, floorUsers, seconds: seconds) }
        let variantUsers = try await BenchRun.prepare(target, users: users, tag: "\(name)-\(users)")
        let figures = try await observer.measure(confabOwn: true) { await BenchRun.run(target, variantUsers, seconds: seconds) }
        var level = Level(concurrency: users, confab: figures, floor: floor)
        level.reply = reply
        level.kind = kind
        print("\(name) level \(users): Confab \(Int(figures.turnsPerSecond)) turns/s, "
              + "\(String(format: "%.2f", figures.redisRoundTripsPerTurn ?? 0)) Redis round trips a turn")
        return level
    }

    static func levels(_ list: String) -> [Int] {
        list.split(separator: ",").compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
    }

    private func machineDescription() -> String {
        let cpu = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8))?
            .split(separator: "\n").first { $0.hasPrefix("model name") }?
            .split(separator: ":").last?.trimmingCharacters(in: .whitespaces) ?? "unknown CPU"
        return "\(ProcessInfo.processInfo.activeProcessorCount) cores, \(cpu), \(ProcessInfo.processInfo.physicalMemory >> 30) GiB"
    }
}

extension StreamingClient {
    init(group: any EventLoopGroup, url: String) throws {
        let address = url.replacingOccurrences(of: "http://", with: "").split(separator: "/").first ?? ""
        let parts = address.split(separator: ":")
        guard parts.count == 2, let port = Int(parts[1]) else { throw BenchError("expected http://HOST:PORT, got \(url)") }
        self.init(group: group, host: String(parts[0]), port: port)
    }
}
