import Foundation

/// Where a subcommand's words go: results on stdout (JSON with `--json`, tables otherwise),
/// logs and progress on stderr, so that `--json` output can always be piped.
struct Output: Sendable {
    var json: Bool

    /// Writes to stdout at once (no buffering), so a streamed reply shows token by token.
    func write(_ text: String) {
        FileHandle.standardOutput.write(Data(text.utf8))
    }

    /// One line on stderr.
    func log(_ line: String) {
        FileHandle.standardError.write(Data((line + "\n").utf8))
    }

    /// The result: `value` as JSON with `--json`, else what `human` makes of it.
    func result<Value: Encodable>(_ value: Value, human: (Value) -> String) throws {
        if json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
            write(String(decoding: try encoder.encode(value), as: UTF8.self) + "\n")
        } else {
            let text = human(value)
            if !text.isEmpty { write(text.hasSuffix("\n") ? text : text + "\n") }
        }
    }

    /// Whether stderr is a terminal (progress then rewrites one line instead of adding many).
    static let stderrIsTerminal = isatty(FileHandle.standardError.fileDescriptor) != 0
}
