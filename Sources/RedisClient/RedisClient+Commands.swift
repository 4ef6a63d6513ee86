import Synchronization

/// Typed helpers for the commands Confab uses outside its scripts.
extension RedisClient {
    public func ping() async throws {
        let reply = try await send(RedisCommand("PING")).check()
        guard reply.string == "PONG" else { throw RedisError.protocolError("unexpected PING reply \(reply)") }
    }

    @discardableResult
    public func set(_ key: String, _ value: some RedisArgument, expireSeconds: Int? = nil) async throws -> RedisValue {
        var arguments: [any RedisArgument] = [key, value]
        if let expireSeconds { arguments += ["EX", expireSeconds] }
        return try await send(RedisCommand("SET", arguments)).check()
    }

    public func get(_ key: String) async throws -> [UInt8]? {
        if case .bulk(let bytes) = try await send(RedisCommand("GET", key)).check() { return bytes }
        return nil
    }

    @discardableResult
    public func delete(_ keys: [String]) async throws -> Int {
        guard !keys.isEmpty else { return 0 }
        return try await send(RedisCommand("DEL", keys)).check().int ?? 0
    }

    /// Runs a Lua script by its digest (EVALSHA), so its text crosses the wire only once per
    /// server: the first call, or one after NOSCRIPT (a restarted Redis), loads it in the same
    /// write as it runs it. The keys must share one hash slot for Redis Cluster.
    public func eval(_ script: RedisScript, keys: [String], arguments: [any RedisArgument]) async throws -> RedisValue {
        let rest: [any RedisArgument] = [keys.count] + keys + arguments
        if let digest = script.digest {
            let reply = try await send(RedisCommand("EVALSHA", [digest] + rest))
            guard case .error(let message) = reply, message.hasPrefix("NOSCRIPT") else { return try reply.check() }
        }
        let replies = try await pipeline([RedisCommand("SCRIPT", "LOAD", script.source),
                                          RedisCommand("EVAL", [script.source] + rest)])
        if let digest = replies[0].string { script.digest = digest }
        return try replies[1].check()
    }
}

/// A Lua script. Redis caches compiled scripts by the SHA-1 of their text, which SCRIPT LOAD
/// reports; the client remembers it and from then on sends only the digest.
public final class RedisScript: Sendable {
    public let source: String
    private let loaded = Mutex<String?>(nil)

    public init(_ source: String) { self.source = source }

    var digest: String? {
        get { loaded.withLock { $0 } }
        set { loaded.withLock { $0 = newValue } }
    }
}
