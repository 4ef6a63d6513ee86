/// Why a Redis call failed.
public enum RedisError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Redis answered with an error reply (`-ERR ...`).
    case server(String)
    /// No connection could be made, or it was lost before the reply came.
    case connectionFailed(String)
    /// Redis did not answer by the command's deadline; the connection was closed and is re-made.
    case timeout(String)
    /// The bytes from Redis were not valid RESP.
    case protocolError(String)
    /// The URL in the settings is not a `redis://host:port[/db]` URL.
    case invalidURL(String)

    public var description: String {
        switch self {
        case .server(let m): "Redis error: \(m)"
        case .connectionFailed(let m): "Redis unavailable: \(m)"
        case .timeout(let m): "Redis timed out: \(m)"
        case .protocolError(let m): "Redis protocol error: \(m)"
        case .invalidURL(let u): "invalid Redis URL: \(u)"
        }
    }
}
