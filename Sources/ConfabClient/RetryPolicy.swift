import NIOCore

/// How the connection phase of a chat stream is retried, as `EventSource` reconnects: failures
/// to connect, and refusals that promise a later success (503, 429), are tried again after a
/// growing delay, or after the server's `Retry-After` when it gives one. Nothing is retried once
/// the reply has started: the server has stored the user's message by then.
public struct RetryPolicy: Sendable {
    /// Tries in all, the first included; 1 never retries.
    public var attempts: Int
    /// The delay before the first retry; each further one doubles it.
    public var initialDelay: TimeAmount
    /// No wait is longer, whatever `Retry-After` says, so a client never hangs for minutes.
    public var maximumDelay: TimeAmount

    public init(attempts: Int = 4, initialDelay: TimeAmount = .milliseconds(250), maximumDelay: TimeAmount = .seconds(10)) {
        self.attempts = max(1, attempts)
        self.initialDelay = initialDelay
        self.maximumDelay = maximumDelay
    }

    /// Never retries.
    public static let none = RetryPolicy(attempts: 1)

    /// Whether a failure is worth another try: the server was not reached, or said to come back.
    func isRetryable(_ error: ConfabClientError) -> Bool {
        switch error {
        case .unreachable: true
        case .server(let status, _, _, _): status == 503 || status == 429
        case .timedOut, .invalidResponse, .invalidURL: false
        }
    }

    /// The wait before try number `attempt + 1` (attempt counts from 1): the server's
    /// `Retry-After` if it gave one, else exponential backoff with jitter; capped either way.
    func delay(after attempt: Int, error: ConfabClientError) -> TimeAmount {
        if case .server(_, _, _, let retryAfter?) = error {
            return min(.seconds(Int64(max(0, retryAfter))), maximumDelay)  // a negative one (a bad proxy) is no wait, not a trap
        }
        let base = initialDelay.nanoseconds << Int64(min(attempt - 1, 20))
        // Up to a quarter more, so that many clients cut off together do not return together.
        let jitter = Int64.random(in: 0...(max(base, 4) / 4))
        return min(.nanoseconds(base + jitter), maximumDelay)
    }

    /// Runs `operation` until it succeeds, fails for good, or the attempts are used up.
    func run<T>(_ operation: () async throws(ConfabClientError) -> T) async throws -> T {
        var attempt = 1
        while true {
            do {
                return try await operation()
            } catch {
                guard attempt < attempts, isRetryable(error) else { throw error }
                try await Task.sleep(nanoseconds: UInt64(delay(after: attempt, error: error).nanoseconds))
                attempt += 1
            }
        }
    }
}
