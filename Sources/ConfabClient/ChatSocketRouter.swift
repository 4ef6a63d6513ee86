import Foundation
import Synchronization

/// Hands each frame that arrives on a `/chat/ws` socket to the turn it belongs to (by its
/// `request_id`), ends a turn at its ending frame, and ends every turn still running when the
/// socket closes. Frames of no running turn (`pong`, a late frame of a turn whose reader left)
/// are dropped.
final class ChatSocketRouter: Sendable {
    typealias Continuation = AsyncThrowingStream<ChatEvent, any Error>.Continuation

    private struct State {
        var turns: [String: Continuation] = [:]
        /// Why the socket closed; set once, and then no turn is taken.
        var closed: String?
        var lastRequestNumber = 0
    }

    private let state = Mutex(State())

    /// A request id no turn of this socket has used: `r1`, `r2`, …
    func makeRequestID() -> String {
        "r\(state.withLock { state in state.lastRequestNumber += 1; return state.lastRequestNumber })"
    }

    /// Takes a turn's stream before its frame is sent, so that no answer can arrive unrouted.
    func open(_ requestID: String, _ continuation: Continuation) throws(ConfabClientError) {
        let refusal: ConfabClientError? = state.withLock { state in
            if let reason = state.closed { return .unreachable("the socket is closed: \(reason)") }
            guard state.turns[requestID] == nil else {
                return .invalidURL("request id \(requestID) is already running on this socket")
            }
            state.turns[requestID] = continuation
            return nil
        }
        if let refusal { throw refusal }
    }

    /// Forgets a turn whose reader left; answers whether it was still running.
    @discardableResult
    func forget(_ requestID: String) -> Bool {
        state.withLock { $0.turns.removeValue(forKey: requestID) } != nil
    }

    /// Routes one text frame. Continuations are finished outside the lock: finishing runs the
    /// stream's `onTermination`, which calls ``forget(_:)``.
    func receive(_ text: String) {
        let routed = Self.route(text)
        guard let requestID = routed.requestID else { return }
        let continuation = state.withLock { state in
            routed.ends ? state.turns.removeValue(forKey: requestID) : state.turns[requestID]
        }
        guard let continuation else { return }
        switch routed.outcome {
        case .event(let event):
            continuation.yield(event)
            if routed.ends { continuation.finish() }
        case .failure(let error):
            continuation.finish(throwing: error)
        }
    }

    /// Ends every running turn with ``ChatEvent/interrupted(reason:)`` and refuses new ones.
    func close(reason: String) {
        let running = state.withLock { state in
            if state.closed == nil { state.closed = reason }
            defer { state.turns = [:] }
            return Array(state.turns.values)
        }
        for continuation in running {
            continuation.yield(.interrupted(reason: reason))
            continuation.finish()
        }
    }

    /// What a frame means for its turn, read apart from the routing so it can be tested alone.
    static func route(_ text: String) -> RoutedFrame {
        guard let header = try? JSONDecoder().decode(FrameHeader.self, from: Data(text.utf8)) else {
            return RoutedFrame(requestID: nil, outcome: .failure(.invalidResponse("a frame that is not JSON")), ends: true)
        }
        guard let requestID = header.requestID else {
            return RoutedFrame(requestID: nil, outcome: .failure(.invalidResponse("a frame of no request")), ends: true)
        }
        // A refusal has no message: nothing was stored, and the error carries the HTTP status.
        if header.type == "error", header.messageID == nil {
            let refusal = header.error
            return RoutedFrame(requestID: requestID, outcome: .failure(.server(
                status: refusal?.status ?? 400, code: refusal?.code ?? "refused", message: refusal?.message ?? "refused",
                retryAfter: refusal?.retryAfter)), ends: true)
        }
        let event: ChatEvent
        do {
            event = try ChatEvent(payload: text)
        } catch {
            return RoutedFrame(requestID: requestID, outcome: .failure(error), ends: true)
        }
        switch event {
        case .finish, .error, .stopped: return RoutedFrame(requestID: requestID, outcome: .event(event), ends: true)
        default: return RoutedFrame(requestID: requestID, outcome: .event(event), ends: false)
        }
    }

    /// One frame, read: whose it is, what it carries, and whether it is the turn's last.
    struct RoutedFrame: Equatable {
        enum Outcome: Equatable {
            case event(ChatEvent)
            case failure(ConfabClientError)
        }

        var requestID: String?
        var outcome: Outcome
        var ends: Bool
    }
}

/// The fields that route a frame. `error` is read loosely: a refusal's is
/// `{status, code, message, retry_after?}`, a failed turn's `{message, type, code}`, a failed
/// tool's a string (then nil here).
private struct FrameHeader: Decodable {
    var requestID: String?
    var type: String?
    var messageID: String?
    var error: Refusal?

    struct Refusal: Decodable {
        var status: Int?
        var code: String?
        var message: String?
        var retryAfter: Int?

        enum CodingKeys: String, CodingKey {
            case status, code, message
            case retryAfter = "retry_after"
        }
    }

    enum CodingKeys: String, CodingKey {
        case type, error
        case requestID = "request_id"
        case messageID = "message_id"
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        requestID = try container.decodeIfPresent(String.self, forKey: .requestID)
        type = try container.decodeIfPresent(String.self, forKey: .type)
        messageID = try container.decodeIfPresent(String.self, forKey: .messageID)
        error = try? container.decodeIfPresent(Refusal.self, forKey: .error)
    }
}
