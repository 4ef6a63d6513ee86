/// One reply from Redis, copied out of hiredis so it can cross threads.
public enum RedisValue: Sendable, Equatable {
    case simple(String)
    case error(String)
    case integer(Int)
    case bulk([UInt8])
    case null
    case array([RedisValue])

    /// The reply as text, for bulk and simple strings.
    public var string: String? {
        switch self {
        case .simple(let s): s
        case .bulk(let bytes): String(decoding: bytes, as: UTF8.self)
        default: nil
        }
    }

    public var int: Int? {
        switch self {
        case .integer(let i): i
        case .bulk, .simple: string.flatMap { Int($0) }
        default: nil
        }
    }

    public var array: [RedisValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    public var isNull: Bool { self == .null }

    /// Throws the server's error reply, so a caller can write `try reply.check()`.
    @discardableResult
    public func check() throws -> RedisValue {
        if case .error(let message) = self { throw RedisError.server(message) }
        return self
    }
}
