import Foundation
import Synchronization

/// Collects the exact upstream request and the raw response bytes of one reply, when debug
/// capture is on, so an operator can see what the model was sent and what it said.
public final class DebugCapture: Sendable {
    private struct State {
        var request: String = ""
        var status: Int?
        var response: [UInt8] = []
    }

    private let state = Mutex(State())

    public init() {}

    func request(_ body: [UInt8]) { state.withLock { $0.request = String(decoding: body, as: UTF8.self) } }
    func status(_ code: Int) { state.withLock { $0.status = code } }
    func response<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 { state.withLock { $0.response.append(contentsOf: bytes) } }

    /// The capture as one JSON document.
    public func json() -> String {
        let object: [String: Any] = state.withLock { s in
            ["request": s.request, "response_status": s.status ?? 0, "response": String(decoding: s.response, as: UTF8.self)]
        }
        let data = (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
        return String(decoding: data, as: UTF8.self)
    }
}
