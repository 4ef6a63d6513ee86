/// What an admin clean-up removed (`DELETE /api/v1/admin/users?prefix=`).
public struct AdminDeletion: Codable, Sendable, Equatable {
    public var deleted: Counts
    /// The users removed, by username.
    public var usernames: [String]?

    /// How many of each thing went, Redis keys included.
    public struct Counts: Codable, Sendable, Equatable {
        public var users: Int
        public var tenants: Int
        public var agents: Int
        public var keys: Int
        public var sessions: Int
        public var messages: Int
        public var redisKeys: Int

        enum CodingKeys: String, CodingKey {
            case users, tenants, agents, keys, sessions, messages
            case redisKeys = "redis_keys"
        }
    }
}
