import Foundation
import RedisClient

/// Accounts, tenants, keys, agents and meters in Redis (see `AccountStore` for the layout).
public struct RedisAccountStore: AccountStore {
    let redis: RedisClient
    /// Seconds a stream slot or login meter outlives its minute.
    static let meterTTL = 120

    public init(redis: RedisClient) { self.redis = redis }

    public func register(_ account: Account, passwordHash: String, newTenant: Tenant?) async throws -> Registration {
        let claimed = try await redis.send(RedisCommand("SET", IdentityKeys.username(account.username), account.id, "NX")).check()
        guard !claimed.isNull else { return .usernameTaken }
        var commands = [RedisCommand("HSET", RedisKeys(user: account.id).account, "id", account.id, "username", account.username,
                                     "email", account.email ?? "", "tenant_id", account.tenantID, "role", account.role.rawValue,
                                     "created_at", account.createdAt, "password", passwordHash),
                        RedisCommand("ZADD", IdentityKeys.usernames, 0, account.username.lowercased()),
                        RedisCommand("SADD", IdentityKeys.members(account.tenantID), account.id)]
        if let tenant = newTenant {
            commands.append(RedisCommand("HSET", IdentityKeys.tenant(tenant.id), "id", tenant.id, "name", tenant.name,
                                         "owner_id", tenant.ownerID, "created_at", tenant.createdAt))
        }
        do {
            for reply in try await redis.pipeline(commands) { try reply.check() }
        } catch {
            // Free the name again, so a retry can have it.
            _ = try? await redis.delete([IdentityKeys.username(account.username)])
            throw error
        }
        return .created
    }

    public func credentials(username: String) async throws -> (account: Account, passwordHash: String)? {
        guard let id = try await userID(username: username) else { return nil }
        let fields = Self.fields(try await redis.send(RedisCommand("HGETALL", RedisKeys(user: id).account)).check())
        guard let account = Self.account(fields), let hash = fields["password"] else { return nil }
        return (account, hash)
    }

    func userID(username: String) async throws -> String? {
        try await redis.get(IdentityKeys.username(username)).map { String(decoding: $0, as: UTF8.self) }
    }

    public func account(id: String) async throws -> Account? {
        Self.account(Self.fields(try await redis.send(RedisCommand("HGETALL", RedisKeys(user: id).account)).check()))
    }

    public func tenant(id: String) async throws -> Tenant? {
        let fields = Self.fields(try await redis.send(RedisCommand("HGETALL", IdentityKeys.tenant(id))).check())
        guard let id = fields["id"], let name = fields["name"], let owner = fields["owner_id"] else { return nil }
        return Tenant(id: id, name: name, ownerID: owner, createdAt: Double(fields["created_at"] ?? "") ?? 0)
    }

    public func members(tenant: String) async throws -> [String] {
        (try await redis.send(RedisCommand("SMEMBERS", IdentityKeys.members(tenant))).check().array ?? []).compactMap(\.string).sorted()
    }

    public func authenticate(_ check: AuthCheck) async throws -> AuthOutcome {
        let keys = RedisKeys(user: check.user)
        let window = RedisKeys.window(check.now)
        let keyScope = check.key.map { "key:\($0.id)" } ?? "user"
        let reply = try await redis.eval(
            AccountScripts.authenticate,
            keys: [keys.account, keys.apiKeys, keys.requestMeter("user", window: window), keys.requestMeter(keyScope, window: window),
                   keys.tokenMeter("user", window: window), keys.tokenMeter(keyScope, window: window)],
            arguments: [check.key?.id ?? "", check.key?.hash ?? "", check.userLimits.requestsPerMinute.map(String.init) ?? "",
                        check.userLimits.tokensPerMinute.map(String.init) ?? "", check.enforceRequests ? "1" : "0",
                        check.enforceTokens ? "1" : "0"])
        let parts = reply.array ?? []
        let reset = 60 - Int(check.now) % 60
        switch parts.first?.string {
        case "ok":
            guard parts.count == 9 else { throw RedisError.protocolError("unexpected reply to authenticate: \(reply)") }
            guard let account = Self.account(Self.fields(parts[1])) else { return .unknown }
            let key = parts[2].string.flatMap { $0.isEmpty ? nil : try? JSONDecoder().decode(APIKeyRecord.self, from: Data($0.utf8)) }
            func tightest(_ kind: RateLimitState.Kind, user: (limit: Int?, used: Int), key: (limit: Int?, used: Int)) -> RateLimitState? {
                [user, key].compactMap { pair in pair.limit.map { RateLimitState(kind: kind, limit: $0, remaining: max(0, $0 - pair.used),
                                                                                  resetSeconds: reset) } }
                    .min { $0.remaining < $1.remaining }
            }
            let ints = parts.map { $0.int ?? 0 }
            return .allowed(account, key: key,
                            requests: tightest(.requests, user: (check.userLimits.requestsPerMinute, ints[3]),
                                               key: (parts[7].int, ints[4])),
                            tokens: tightest(.tokens, user: (check.userLimits.tokensPerMinute, ints[5]), key: (parts[8].int, ints[6])))
        case "limited":
            let kind = RateLimitState.Kind(rawValue: parts.count > 1 ? parts[1].string ?? "" : "") ?? .requests
            return .limited(RateLimitState(kind: kind, limit: parts.count > 2 ? parts[2].int ?? 0 : 0, remaining: 0, resetSeconds: reset))
        case "unknown":
            return .unknown
        default:
            // A Redis fault must never look like bad credentials.
            throw RedisError.protocolError("unexpected reply to authenticate: \(reply)")
        }
    }

    public func addKey(user: String, _ key: APIKeyRecord, limit: Int) async throws -> Bool {
        try await redis.eval(AccountScripts.addBounded, keys: [RedisKeys(user: user).apiKeys],
                             arguments: [key.id, Array(try JSONEncoder().encode(key)), limit]).int == 1
    }

    public func addAgent(user: String, _ agent: Agent, limit: Int) async throws -> Bool {
        try await redis.eval(AccountScripts.addBounded, keys: [RedisKeys(user: user).agents],
                             arguments: [agent.id, Array(try JSONEncoder().encode(agent)), limit]).int == 1
    }

    public func keys(user: String) async throws -> [APIKeyRecord] {
        try await values(RedisKeys(user: user).apiKeys).sorted { $0.createdAt < $1.createdAt }
    }

    public func deleteKey(user: String, id: String) async throws -> Bool {
        try await redis.send(RedisCommand("HDEL", RedisKeys(user: user).apiKeys, id)).check().int == 1
    }

    public func putAgent(user: String, _ agent: Agent) async throws {
        try await redis.send(RedisCommand("HSET", RedisKeys(user: user).agents, agent.id, Array(try JSONEncoder().encode(agent)))).check()
    }

    public func agents(user: String) async throws -> [Agent] {
        try await values(RedisKeys(user: user).agents).sorted { $0.createdAt < $1.createdAt }
    }

    public func agent(user: String, id: String) async throws -> Agent? {
        guard case .bulk(let bytes) = try await redis.send(RedisCommand("HGET", RedisKeys(user: user).agents, id)).check() else { return nil }
        return try? JSONDecoder().decode(Agent.self, from: Data(bytes))
    }

    public func deleteAgent(user: String, id: String) async throws -> Bool {
        try await redis.send(RedisCommand("HDEL", RedisKeys(user: user).agents, id)).check().int == 1
    }

    public func countLoginAttempt(username: String?, address: String) async throws -> (perUsername: Int, perAddress: Int) {
        let window = RedisKeys.window(Date().timeIntervalSince1970)
        let meters = (username.map { [IdentityKeys.loginByName($0, window: window)] } ?? []) + [IdentityKeys.loginByAddress(address, window: window)]
        let replies = try await redis.pipeline(meters.flatMap { [RedisCommand("INCR", $0), RedisCommand("EXPIRE", $0, Self.meterTTL)] })
        let counts = try stride(from: 0, to: replies.count, by: 2).map { try replies[$0].check().int ?? 0 }
        return (username == nil ? 0 : counts[0], counts[counts.count - 1])
    }

    public func clearLoginAttempts(username: String) async throws {
        _ = try await redis.delete([IdentityKeys.loginByName(username, window: RedisKeys.window(Date().timeIntervalSince1970))])
    }

    public func putTicket(hash: String, _ ticket: StreamTicket, ttlSeconds: Int) async throws {
        try await redis.set(IdentityKeys.ticket(hash), Array(try JSONEncoder().encode(ticket)), expireSeconds: ttlSeconds)
    }

    public func takeTicket(hash: String) async throws -> StreamTicket? {
        guard case .bulk(let bytes) = try await redis.send(RedisCommand("GETDEL", IdentityKeys.ticket(hash))).check() else { return nil }
        return try? JSONDecoder().decode(StreamTicket.self, from: Data(bytes))
    }

    public func users(withPrefix prefix: String) async throws -> [(username: String, id: String)] {
        let low = prefix.lowercased()
        // Usernames are ASCII, so every name that starts with the prefix sorts before prefix + 0xFF.
        let names = (try await redis.send(RedisCommand("ZRANGEBYLEX", IdentityKeys.usernames, "[" + low, Array(("[" + low).utf8) + [0xFF]))
            .check().array ?? []).compactMap(\.string).filter { $0.hasPrefix(low) }
        var found: [(String, String)] = []
        for name in names {
            if let id = try await userID(username: name) { found.append((name, id)) }
        }
        return found
    }

    public func deleteUser(id: String) async throws -> DeletionCounts? {
        guard let account = try await account(id: id) else { return nil }
        let keys = RedisKeys(user: id)
        let figures = try await redis.eval(AccountScripts.userCounts, keys: [keys.apiKeys, keys.agents, keys.sessions, keys.usage],
                                           arguments: [keys.prefix]).array?.map { $0.int ?? 0 } ?? []
        var counts = DeletionCounts()
        counts.users = 1
        if figures.count >= 4 { (counts.keys, counts.agents, counts.sessions, counts.messages) = (figures[0], figures[1], figures[2], figures[3]) }
        // Every key under the user's tag: sessions, histories, locks, debug captures, meters.
        counts.redisKeys = try await deleteMatching(keys.pattern)
        let low = account.username.lowercased()
        let replies = try await redis.pipeline([RedisCommand("DEL", IdentityKeys.username(low)),
                                                RedisCommand("ZREM", IdentityKeys.usernames, low),
                                                RedisCommand("SREM", IdentityKeys.members(account.tenantID), id),
                                                RedisCommand("SCARD", IdentityKeys.members(account.tenantID))])
        for reply in replies { try reply.check() }
        // The last user of a tenant takes the tenant with them.
        if replies[3].int == 0, try await redis.delete([IdentityKeys.tenant(account.tenantID)]) > 0 { counts.tenants = 1 }
        return counts
    }

    public func deleteTenant(id: String) async throws -> DeletionCounts? {
        guard try await tenant(id: id) != nil else { return nil }
        var counts = DeletionCounts()
        for member in try await members(tenant: id) {
            counts = counts + (try await deleteUser(id: member) ?? DeletionCounts())
        }
        counts.redisKeys += try await redis.delete([IdentityKeys.tenant(id), IdentityKeys.members(id)])
        counts.tenants = 1  // whether its last user took it or not
        return counts
    }

    public func stats(tenant: String) async throws -> TenantStats {
        var stats = TenantStats()
        for member in try await members(tenant: tenant) {
            let keys = RedisKeys(user: member)
            let figures = try await redis.eval(AccountScripts.userCounts, keys: [keys.apiKeys, keys.agents, keys.sessions, keys.usage],
                                               arguments: [keys.prefix]).array?.map { $0.int ?? 0 } ?? []
            guard figures.count == 6 else { continue }
            stats.users += 1
            stats.agents += figures[1]
            stats.sessions += figures[2]
            stats.messages += figures[3]
            stats.tokens = stats.tokens + Usage(promptTokens: figures[4], completionTokens: figures[5])
        }
        return stats
    }

    /// Deletes every key matching a pattern (SCAN, then DEL in batches); how many went.
    private func deleteMatching(_ pattern: String) async throws -> Int {
        var cursor = "0"
        var deleted = 0
        repeat {
            let reply = try await redis.send(RedisCommand("SCAN", cursor, "MATCH", pattern, "COUNT", 1000)).check().array ?? []
            guard reply.count == 2 else { break }
            cursor = reply[0].string ?? "0"
            deleted += try await redis.delete((reply[1].array ?? []).compactMap(\.string))
        } while cursor != "0"
        return deleted
    }

    private func values<T: Decodable>(_ hash: String) async throws -> [T] {
        let flat = try await redis.send(RedisCommand("HVALS", hash)).check().array ?? []
        return flat.compactMap { value in
            guard case .bulk(let bytes) = value else { return nil }
            return try? JSONDecoder().decode(T.self, from: Data(bytes))
        }
    }

    static func fields(_ value: RedisValue) -> [String: String] {
        let flat = value.array ?? []
        var fields: [String: String] = [:]
        for pair in stride(from: 0, to: flat.count - 1, by: 2) {
            if let key = flat[pair].string { fields[key] = flat[pair + 1].string }
        }
        return fields
    }

    static func account(_ fields: [String: String]) -> Account? {
        guard let id = fields["id"], let username = fields["username"], let tenant = fields["tenant_id"],
              let role = fields["role"].flatMap(TenantRole.init) else { return nil }
        return Account(id: id, username: username, email: fields["email"].flatMap { $0.isEmpty ? nil : $0 }, tenantID: tenant,
                       role: role, createdAt: Double(fields["created_at"] ?? "") ?? 0)
    }
}
