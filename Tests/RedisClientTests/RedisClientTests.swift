import Foundation
import NIOCore
import Testing
import TestSupport
@testable import RedisClient

@Suite("Redis client against a real redis-server")
struct RedisClientTests {
    @Test func encodesCommandsAsRESP() throws {
        var buffer = ByteBuffer()
        try HiredisCodec.encode(RedisCommand("SET", "k", [0, 13, 10, 255] as [UInt8]).arguments, into: &buffer)
        #expect(Array(buffer.readableBytesView) == Array("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4\r\n".utf8) + [0, 13, 10, 255] + Array("\r\n".utf8))
    }

    @Test func storesAndReadsBinarySafeValues() async throws {
        let server = try await RedisServer()
        defer { server.stop() }
        let redis = server.client()
        let value: [UInt8] = [0, 1, 13, 10, 0xFF, 0xC3] + Array("héllo\r\n*3".utf8)
        try await redis.set("binary", value)
        #expect(try await redis.get("binary") == value)
        #expect(try await redis.get("missing") == nil)
        await redis.shutdown()
    }

    /// A stalled Redis (SIGSTOP: the connection stays open, nothing answers) fails each command
    /// at its deadline instead of hanging it; once Redis goes on, the client answers again on a
    /// new connection, and no late reply is handed to the wrong caller.
    @Test func aStalledServerFailsCommandsAtTheirDeadline() async throws {
        let server = try await RedisServer()
        defer { server.stop() }
        let redis = RedisClient(configuration: RedisConfiguration(port: server.port, poolSize: 1, commandTimeoutSeconds: 0.5))
        // Connected and answering first (a generous deadline: the machine may be busy).
        _ = try await redis.pipeline([RedisCommand("SET", "before", "1")], timeout: .seconds(20))
        server.pause()
        let started = ContinuousClock.now
        await #expect(throws: RedisError.self) { try await redis.set("during", "2") }
        let took = ContinuousClock.now - started
        #expect(took >= .milliseconds(450) && took < .seconds(3), "failed after \(took)")
        // A call may give its own deadline.
        let short = ContinuousClock.now
        await #expect(throws: RedisError.self) { try await redis.pipeline([RedisCommand("GET", "before")], timeout: .milliseconds(100)) }
        #expect(ContinuousClock.now - short < .seconds(2))
        server.resume()
        var value: [UInt8]?
        for _ in 0..<100 where value == nil {
            value = try? await redis.get("before")
            if value == nil { try await Task.sleep(for: .milliseconds(50)) }
        }
        #expect(value.map { String(decoding: $0, as: UTF8.self) } == "1", "served again after the stall")
        for i in 0..<20 { #expect(try await redis.send(RedisCommand("ECHO", "e\(i)")).string == "e\(i)") }
        await redis.shutdown()
    }

    @Test func repliesMatchTheirCallersUnderConcurrency() async throws {
        let server = try await RedisServer()
        defer { server.stop() }
        let redis = RedisClient(configuration: RedisConfiguration(port: server.port, poolSize: 2))
        try await withThrowingTaskGroup(of: Void.self) { group in
            for i in 0..<500 {
                group.addTask {
                    try await redis.set("k\(i)", "v\(i)")
                    let replies = try await redis.pipeline([RedisCommand("GET", "k\(i)"), RedisCommand("INCR", "counter")])
                    #expect(replies[0].string == "v\(i)")
                    #expect(replies[1].int != nil)
                }
            }
            try await group.waitForAll()
        }
        #expect(try await redis.send(RedisCommand("GET", "counter")).int == 500)
        await redis.shutdown()
    }

    @Test func transactionsRunAtomicallyAndReportErrors() async throws {
        let server = try await RedisServer()
        defer { server.stop() }
        let redis = server.client()
        let results = try await redis.transaction([RedisCommand("SET", "a", "1"), RedisCommand("INCR", "a"), RedisCommand("LPUSH", "a", "x")])
        #expect(results[0] == .simple("OK"))
        #expect(results[1] == .integer(2))
        guard case .error(let message) = results[2] else { Issue.record("expected WRONGTYPE, got \(results[2])"); return }
        #expect(message.hasPrefix("WRONGTYPE"))
        await #expect(throws: RedisError.self) { try await redis.transaction([RedisCommand("NOSUCHCOMMAND")]) }
        await redis.shutdown()
    }

    @Test func scriptsRunByDigestAndReloadAfterAFlush() async throws {
        let server = try await RedisServer()
        defer { server.stop() }
        let redis = server.client()
        let script = RedisScript("return redis.call('INCRBY', KEYS[1], ARGV[1])")
        #expect(try await redis.eval(script, keys: ["n"], arguments: [2]).int == 2)
        #expect(try await redis.eval(script, keys: ["n"], arguments: [3]).int == 5)
        // A restarted or flushed server has forgotten the script: it is loaded again, transparently.
        try await redis.send(RedisCommand("SCRIPT", "FLUSH")).check()
        #expect(try await redis.eval(script, keys: ["n"], arguments: [4]).int == 9)
        let calls = try await redis.send(RedisCommand("INFO", "commandstats")).check().string ?? ""
        #expect(calls.contains("cmdstat_evalsha:calls=2"), "\(calls)")
        await #expect(throws: RedisError.self) { try await redis.eval(RedisScript("return redis.error_reply('nope')"), keys: [], arguments: []) }
        await redis.shutdown()
    }

    @Test func reconnectsAfterRedisRestarts() async throws {
        let server = try await RedisServer()
        defer { server.stop() }
        let redis = server.client()
        try await redis.ping()
        server.kill()
        await #expect(throws: RedisError.self) { try await redis.ping() }
        try await server.start()
        try await redis.ping()
        try await redis.set("after", "restart")
        #expect(try await redis.get("after") == Array("restart".utf8))
        await redis.shutdown()
    }

    @Test func parsesRedisURLs() throws {
        let full = try RedisConfiguration(url: "redis://:secret@cache.internal:6380/2")
        #expect(full.host == "cache.internal")
        #expect(full.port == 6380)
        #expect(full.database == 2)
        #expect(full.password == "secret")
        #expect(try RedisConfiguration(url: "redis://localhost").port == 6379)
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "http://localhost") }
        #expect(throws: RedisError.self) { try RedisConfiguration(url: "redis://localhost:99999") }
    }
}
