import Foundation

/// What one request will get: the reply's pieces, the delays, and any fault.
struct ReplyPlan: Sendable {
    var pieces: [String]
    var firstDelayMS: Int
    var delayMS: Int
    var fault: TestUpstream.Fault?
    var model: String
    var promptTokens: Int

    init(chat: ChatRequest, defaults: TestUpstream.Options) {
        let last = chat.messages.last { $0.role == "user" }?.content ?? ""
        let directives = Self.directives(in: last)
        let text = last.replacingOccurrences(of: #"\[\[[a-z]+=[^\]]*\]\]"#, with: "", options: .regularExpression)
            .trimmingCharacters(in: .whitespaces)
        var pieces = ["Echo:"] + text.split(separator: " ", omittingEmptySubsequences: false).map { " " + $0 }
        let wanted = directives["tokens"].flatMap(Int.init) ?? defaults.tokens
        var filler = 0
        while pieces.count < wanted {
            filler += 1
            pieces.append(" word\(filler)")
        }
        self.pieces = pieces
        firstDelayMS = directives["first"].flatMap(Int.init) ?? defaults.firstTokenDelayMS
        delayMS = directives["delay"].flatMap(Int.init) ?? defaults.tokenDelayMS
        fault = directives["fault"].flatMap(TestUpstream.Fault.init(rawValue:))
        model = chat.model ?? "test-model"
        promptTokens = chat.messages.reduce(0) { $0 + ($1.content ?? "").split(separator: " ").count }
    }

    static func directives(in text: String) -> [String: String] {
        var found: [String: String] = [:]
        let regex = try! NSRegularExpression(pattern: #"\[\[([a-z]+)=([^\]]*)\]\]"#)
        let range = NSRange(text.startIndex..., in: text)
        for match in regex.matches(in: text, range: range) {
            if let key = Range(match.range(at: 1), in: text), let value = Range(match.range(at: 2), in: text) {
                found[String(text[key])] = String(text[value])
            }
        }
        return found
    }

    /// The SSE stream as written: each chunk with the delay before it, and whether the stream
    /// then hangs (sends nothing more, keeping the connection open) instead of closing.
    /// Built whole up front so that streaming costs one timer and one write per chunk.
    func script() -> (chunks: [(delayMS: Int, text: String)], hangs: Bool) {
        if fault == .hangFirst { return ([], true) }
        let id = "chatcmpl-test"
        func chunk(_ delta: String, finish: String? = nil) -> String {
            let finishJSON = finish.map { "\"\($0)\"" } ?? "null"
            return "data: {\"id\":\"\(id)\",\"object\":\"chat.completion.chunk\",\"model\":\"\(model)\",\"choices\":[{\"index\":0,\"delta\":\(delta),\"finish_reason\":\(finishJSON)}]}\n\n"
        }
        // Like llama.cpp: the first delta carries the role and a null content.
        var chunks = [(delayMS: firstDelayMS, text: chunk(#"{"role":"assistant","content":null}"#))]
        let half = fault == nil ? pieces.count : pieces.count / 2
        for (index, piece) in pieces.prefix(half).enumerated() {
            chunks.append((index > 0 ? delayMS : 0, chunk("{\"content\":\(Self.json(piece))}")))
        }
        switch fault {
        case .errorEvent:
            chunks.append((0, "data: {\"error\":{\"message\":\"the model crashed\",\"type\":\"server_error\"}}\n\n"))
        case .vllmError:
            chunks.append((0, "data: {\"object\":\"error\",\"message\":\"the model crashed\",\"code\":500}\n\n"))
        case .hangMid, .hangFirst: return (chunks, true)
        case .cut: break  // closes with no finish reason and no [DONE]
        case .http500, .http429, .http401, nil:
            chunks.append((0, chunk("{}", finish: "stop")))
            chunks.append((0, "data: {\"id\":\"\(id)\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":\(promptTokens),\"completion_tokens\":\(pieces.count),\"total_tokens\":\(promptTokens + pieces.count)},\"timings\":{\"predicted_ms\":1.5}}\n\n"))
            chunks.append((0, "data: [DONE]\n\n"))
        }
        return (chunks, false)
    }

    func wholeReply() -> String {
        let content = Self.json(pieces.joined())
        return "{\"id\":\"chatcmpl-test\",\"object\":\"chat.completion\",\"model\":\"\(model)\",\"choices\":[{\"index\":0,\"message\":{\"role\":\"assistant\",\"content\":\(content)},\"finish_reason\":\"stop\"}],\"usage\":{\"prompt_tokens\":\(promptTokens),\"completion_tokens\":\(pieces.count),\"total_tokens\":\(promptTokens + pieces.count)}}"
    }

    /// A JSON string literal.
    static func json(_ string: String) -> String {
        var out = "\""
        for scalar in string.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case _ where scalar.value < 0x20: out += String(format: "\\u%04x", scalar.value)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }
}
