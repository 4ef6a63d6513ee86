import Foundation
import NIOCore
import RedisClient

/// Watches a run from the outside: Confab's CPU and memory, open streams at the upstream,
/// Redis commands and Confab's own count of round trips.
struct Observer: Sendable {
    let probe: ProcessProbe
    let upstreamProbe: ProcessProbe?
    let upstream: StreamingClient
    let confab: StreamingClient
    let redis: RedisClient

    /// Runs `body` while sampling every 100 ms, and returns its figures with what was observed.
    func measure(confabOwn: Bool = false, _ body: () async -> RunSamples) async throws -> Figures {
        let (commands, roundTrips) = (try await redisCommands(), try await confabRoundTrips())
        let scripts = try await redisCommands(only: ["cmdstat_evalsha:", "cmdstat_eval:"])
        let (cpu, ownCPU, rssBefore) = (probe.cpuSeconds(), ownCPUSeconds(), probe.residentKB())
        let upstreamCPU = upstreamProbe?.cpuSeconds()
        let sampling = Task { [self] in
            var peak = (rss: 0, files: 0, open: 0, upstreamRSS: 0)
            while !Task.isCancelled {
                peak.rss = max(peak.rss, probe.residentKB())
                peak.upstreamRSS = max(peak.upstreamRSS, upstreamProbe?.residentKB() ?? 0)
                peak.files = max(peak.files, probe.openFiles())
                peak.open = max(peak.open, (try? await openStreams()) ?? 0)
                try? await Task.sleep(for: .milliseconds(100))
            }
            return peak
        }
        let samples = await body()
        sampling.cancel()
        let peak = await sampling.value
        var figures = Figures(samples)
        figures.maxOpenStreams = peak.open
        if upstreamProbe != nil { figures.upstreamPeakRSSMB = Double(peak.upstreamRSS) / 1024 }
        figures.loadGeneratorCPUSeconds = ownCPUSeconds() - ownCPU
        let turns = Double(max(samples.turns + samples.errors, 1))
        if let upstreamProbe, let upstreamCPU {
            figures.upstreamCPUSecondsPer1000Turns = (upstreamProbe.cpuSeconds() - upstreamCPU) / turns * 1000
        }
        guard confabOwn else { return figures }
        figures.cpuSecondsPer1000Turns = (probe.cpuSeconds() - cpu) / turns * 1000
        figures.peakRSSMB = Double(peak.rss) / 1024
        figures.rssPerOpenStreamKB = peak.open > 0 ? Double(max(peak.rss - rssBefore, 0)) / Double(peak.open) : nil
        figures.peakOpenFiles = peak.files
        figures.redisCommandsPerTurn = Double(try await redisCommands() - commands) / turns
        figures.redisScriptsPerTurn = Double(try await redisCommands(only: ["cmdstat_evalsha:", "cmdstat_eval:"]) - scripts) / turns
        figures.redisRoundTripsPerTurn = Double(try await confabRoundTrips() - roundTrips) / turns
        return figures
    }

    /// Commands Redis has run (those inside scripts too), INFO itself left out; or only the `only` ones.
    private func redisCommands(only: [String]? = nil) async throws -> Int {
        let info = try await redis.send(RedisCommand("INFO", "commandstats")).check().string ?? ""
        return info.split(separator: "\r\n").reduce(0) { sum, line in
            guard line.hasPrefix("cmdstat_"), !line.hasPrefix("cmdstat_info:"),
                  only?.contains(where: { line.hasPrefix($0) }) ?? true,
                  let calls = line.split(separator: ":calls=").dropFirst().first?.split(separator: ",").first else { return sum }
            return sum + (Int(calls) ?? 0)
        }
    }

    private func confabRoundTrips() async throws -> Int {
        let page = try await confab.send(.init(method: .GET, uri: "/metrics", collect: true))
        let line = String(decoding: page.body, as: UTF8.self).split(separator: "\n")
            .first { $0.hasPrefix("confab_redis_round_trips_total ") }
        return Int(line?.split(separator: " ").last ?? "") ?? 0
    }

    private func openStreams() async throws -> Int {
        let stats = try await upstream.send(.init(method: .GET, uri: "/stats", collect: true))
        let json = try JSONSerialization.jsonObject(with: Data(stats.body)) as? [String: Any]
        return json?["active"] as? Int ?? 0
    }
}
