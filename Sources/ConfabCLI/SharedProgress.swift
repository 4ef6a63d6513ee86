import Synchronization

/// A ``ProgressLine`` that many tasks advance at once (the integration runner's users, agents
/// and turns), counting failures beside the total: `turns: 12/30, 1 failed`.
final class SharedProgress: Sendable {
    private let state: Mutex<(line: ProgressLine, done: Int, failed: Int)>

    init(_ label: String, total: Int, output: Output) {
        state = Mutex((ProgressLine(label, total: total, output: output), 0, 0))
    }

    /// One more step done; the line is written under the lock so lines never interleave.
    func step(failed: Bool = false) {
        state.withLock { state in
            state.done += 1
            if failed { state.failed += 1 }
            state.line.advance(to: state.done, detail: state.failed > 0 ? ", \(state.failed) failed" : "")
        }
    }
}
