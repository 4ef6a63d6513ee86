import Foundation

/// A progress line on stderr for work in many steps: rewritten in place on a terminal, one line
/// per tenth of the work otherwise (so CI logs stay short).
struct ProgressLine {
    let label: String
    let total: Int
    let output: Output
    private var lastTenth = -1

    init(_ label: String, total: Int, output: Output) {
        self.label = label
        self.total = total
        self.output = output
    }

    /// `detail` follows the count (e.g. `, 2 failed`).
    mutating func advance(to done: Int, detail: String = "") {
        let text = "\(label): \(done)/\(total)\(detail)"
        if Output.stderrIsTerminal {
            output.logInPlace(text, final: done == total)
        } else {
            let tenth = total == 0 ? 10 : done * 10 / total
            if tenth != lastTenth {
                lastTenth = tenth
                output.log(text)
            }
        }
    }
}

extension Output {
    /// Rewrites the current stderr line; ends it when `final`.
    fileprivate func logInPlace(_ text: String, final: Bool) {
        FileHandle.standardError.write(Data(("\r\u{1B}[K" + text + (final ? "\n" : "")).utf8))
    }
}
