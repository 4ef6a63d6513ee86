import ConfabCore
import Synchronization

/// The turns running on one socket, by the client's request id, so that `stop` finds its turn
/// and a request id is not used twice at once.
final class RunningTurns: Sendable {
    private enum Entry {
        /// Accepted, still beginning (its Redis round trip); `stop` is remembered for it.
        case beginning(stopAsked: Bool)
        case running(Turn)
    }

    /// Turns at once on one socket at most (the per-user stream limit, when set, is checked too:
    /// this one also holds an anonymous caller, who has none).
    static let limit = 64

    enum Reservation {
        case reserved
        case duplicate
        case full
    }

    private let entries = Mutex<[String: Entry]>([:])

    /// Takes the request id for a new turn.
    func reserve(_ id: String) -> Reservation {
        entries.withLock { entries in
            guard entries[id] == nil else { return .duplicate }
            guard entries.count < Self.limit else { return .full }
            entries[id] = .beginning(stopAsked: false)
            return .reserved
        }
    }

    /// The turn has begun; false when the client asked to stop it meanwhile.
    func started(_ id: String, _ turn: Turn) -> Bool {
        entries.withLock { entries in
            let stopAsked = if case .beginning(true) = entries[id] { true } else { false }
            entries[id] = .running(turn)
            return !stopAsked
        }
    }

    /// Stops the turn with this request id; false when there is none.
    func stop(_ id: String) -> Bool {
        let turn: Turn? = entries.withLock { entries in
            switch entries[id] {
            case .running(let turn): return turn
            case .beginning: entries[id] = .beginning(stopAsked: true); return nil
            case nil: return nil
            }
        }
        turn?.stop()
        return turn != nil || entries.withLock { $0[id] != nil }
    }

    /// Frees the request id of a turn that never began.
    func remove(_ id: String) {
        _ = entries.withLock { $0.removeValue(forKey: id) }
    }

    /// Frees the request id of `turn` (and only of it: the client may have reused the id as soon
    /// as it saw the ending).
    func finished(_ id: String, _ turn: Turn) {
        entries.withLock { entries in
            if case .running(let running) = entries[id], running === turn { entries[id] = nil }
        }
    }
}
