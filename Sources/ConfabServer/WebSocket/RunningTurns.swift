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

    private let entries = Mutex<[String: Entry]>([:])

    /// Takes the request id; false when a turn with it is running.
    func reserve(_ id: String) -> Bool {
        entries.withLock { entries in
            guard entries[id] == nil else { return false }
            entries[id] = .beginning(stopAsked: false)
            return true
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

    func remove(_ id: String) {
        _ = entries.withLock { $0.removeValue(forKey: id) }
    }
}
