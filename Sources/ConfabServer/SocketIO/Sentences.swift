import Foundation

/// Text gathered as it streams, handed out a sentence at a time.
struct Sentences {
    private var text = ""

    mutating func append(_ piece: String) { text += piece }

    /// The whole sentences so far (ending in . ! ? or a line break, or their full-width forms).
    mutating func takeSentences() -> [String] {
        var sentences: [String] = []
        while let end = text.firstIndex(where: { ".!?\n。！？".contains($0) }) {
            let sentence = text[...end].trimmingCharacters(in: .whitespacesAndNewlines)
            text = String(text[text.index(after: end)...])
            if !sentence.isEmpty { sentences.append(sentence) }
        }
        return sentences
    }

    /// Whatever is left, if anything.
    mutating func takeAll() -> String? {
        let rest = text.trimmingCharacters(in: .whitespacesAndNewlines)
        text = ""
        return rest.isEmpty ? nil : rest
    }
}
