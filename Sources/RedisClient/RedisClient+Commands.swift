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

    /// Runs a Lua script; the keys must share one hash slot for Redis Cluster.
    public func eval(_ script: RedisScript, keys: [String], arguments: [any RedisArgument]) async throws -> RedisValue {
        try await send(RedisCommand("EVAL", [script.source, keys.count] + keys + arguments)).check()
    }
}

/// A Lua script run with EVAL. Redis caches compiled scripts by their text's hash.
public struct RedisScript: Sendable {
    public let source: String
    public init(_ source: String) { self.source = source }
}
