import ArgumentParser
import ConfabClient

/// What a client subcommand's exit status means, so that scripts can tell a bad key from a
/// server that is down without reading the message.
public enum ExitStatus: Int32, Sendable {
    case ok = 0
    case unexpected = 1
    /// Wrong arguments, or input the server refused as invalid (400).
    case usage = 2
    /// 401 or 403: the key or token is missing, wrong, revoked, or not allowed this.
    case authentication = 3
    case notFound = 4
    case rateLimited = 5
    /// The server could not be reached, answered 5xx, or the reply failed or broke off.
    case unavailable = 6
    /// `cleanup` (or `integration`'s clean-up) found something left after deleting.
    case verificationFailed = 7
    /// `integration`: a user, an agent, a connection or a turn failed (the report lists each).
    case integrationFailed = 8

    /// The table every subcommand's help ends with.
    static let help = """
        Exit status: 0 ok, 1 unexpected, 2 usage (or input the server refused), 3 authentication \
        (401/403), 4 not found, 5 rate limited, 6 server unavailable (unreachable, 5xx, reply failed), \
        7 verification failed, 8 integration run failed.
        """

    /// The status an error stands for.
    init(for error: any Error) {
        switch error {
        case let error as ConfabClientError:
            switch error {
            case .server(let status, _, _, _):
                switch status {
                case 400, 413, 422: self = .usage
                case 401, 403: self = .authentication
                case 404: self = .notFound
                case 429: self = .rateLimited
                case 500...: self = .unavailable
                default: self = .unexpected
                }
            case .unreachable, .timedOut: self = .unavailable
            case .invalidURL: self = .usage
            case .invalidResponse: self = .unexpected
            }
        case is ValidationError: self = .usage
        case is VerificationFailure: self = .verificationFailed
        case is ReplyFailure: self = .unavailable
        case is IntegrationFailure: self = .integrationFailed
        default: self = .unexpected
        }
    }
}

/// `cleanup` found things left after it deleted them.
struct VerificationFailure: Error, CustomStringConvertible {
    var description: String
}

/// Part of an `integration` run failed; the report says which.
struct IntegrationFailure: Error, CustomStringConvertible {
    var description: String
}

/// A chat reply ended in an error or broke off.
struct ReplyFailure: Error, CustomStringConvertible {
    var description: String
}
