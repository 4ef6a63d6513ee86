/// Why a call to Confab failed: the server's own error (`{"error": {"message", "type", "code"}}`
/// with its HTTP status), a server that could not be reached, or an answer that was not what
/// the API promises.
public enum ConfabClientError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The server refused the request. `retryAfter` is its `Retry-After` in seconds, if any.
    case server(status: Int, code: String, message: String, retryAfter: Int?)
    /// No connection could be made (refused, unresolvable host, connect timeout), or it broke
    /// before an answer, after any retries.
    case unreachable(String)
    /// The server took the request but did not answer in time. Not retried: it may be acting on it.
    case timedOut(String)
    /// The server answered something this client cannot read.
    case invalidResponse(String)
    /// The base URL or a request made from it is malformed.
    case invalidURL(String)

    /// The HTTP status of a server error, else nil.
    public var status: Int? {
        if case .server(let status, _, _, _) = self { return status }
        return nil
    }

    /// The API's machine-readable code (`session_not_found`, `rate_limit_exceeded`, …), else nil.
    public var code: String? {
        if case .server(_, let code, _, _) = self { return code }
        return nil
    }

    public var description: String {
        switch self {
        case .server(let status, let code, let message, _): "\(message) (HTTP \(status), \(code))"
        case .unreachable(let reason): "cannot reach Confab: \(reason)"
        case .timedOut(let reason): "Confab did not answer in time: \(reason)"
        case .invalidResponse(let reason): "unexpected answer from Confab: \(reason)"
        case .invalidURL(let url): "invalid URL: \(url)"
        }
    }
}
