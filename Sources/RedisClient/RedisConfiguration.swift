/// Where Redis is and how many connections to keep to it.
public struct RedisConfiguration: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var database: Int
    public var password: String?
    public var poolSize: Int
    public var connectTimeoutSeconds: Double
    /// How long a command may wait for its reply (a call may give its own, e.g. a blocking read).
    public var commandTimeoutSeconds: Double

    public init(host: String = "127.0.0.1", port: Int = 6379, database: Int = 0, password: String? = nil,
                poolSize: Int = 4, connectTimeoutSeconds: Double = 2, commandTimeoutSeconds: Double = 2) {
        self.host = host
        self.port = port
        self.database = database
        self.password = password
        self.poolSize = poolSize
        self.connectTimeoutSeconds = connectTimeoutSeconds
        self.commandTimeoutSeconds = commandTimeoutSeconds
    }

    /// Parses `redis://[:password@]host[:port][/db]`.
    public init(url: String, poolSize: Int = 4, commandTimeoutSeconds: Double = 2) throws {
        guard url.hasPrefix("redis://") else { throw RedisError.invalidURL(url) }
        var rest = Substring(url.dropFirst("redis://".count))
        var password: String?
        if let at = rest.lastIndex(of: "@") {
            let auth = rest[..<at]
            password = String(auth.split(separator: ":", maxSplits: 1).last ?? auth)
            rest = rest[rest.index(after: at)...]
        }
        var database = 0
        if let slash = rest.firstIndex(of: "/") {
            let db = rest[rest.index(after: slash)...]
            guard db.isEmpty || Int(db) != nil else { throw RedisError.invalidURL(url) }
            database = Int(db) ?? 0
            rest = rest[..<slash]
        }
        let parts = rest.split(separator: ":", omittingEmptySubsequences: false)
        guard let host = parts.first, !host.isEmpty, parts.count <= 2 else { throw RedisError.invalidURL(url) }
        var port = 6379
        if parts.count == 2 {
            guard let p = Int(parts[1]), (1...65535).contains(p) else { throw RedisError.invalidURL(url) }
            port = p
        }
        self.init(host: String(host), port: port, database: database, password: password, poolSize: poolSize,
                  commandTimeoutSeconds: commandTimeoutSeconds)
    }
}
