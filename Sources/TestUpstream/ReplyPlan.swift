import Foundation

/// What one request will get: the answer (text or tool calls), the delays, and any fault.
struct ReplyPlan: Sendable {
    /// What the model says.
    enum Answer: Sendable {
        /// Text, one piece per chunk.
        case text([String])
        /// Tool calls, in fragments.
        case toolCalls(ToolCallPlan)
    }

    var answer: Answer
    /// Reasoning sent before the answer as `reasoning_content` (`[[reasoning=some words]]`).
    var reasoning: [String]
    var firstDelayMS: Int
    var delayMS: Int
    var fault: TestUpstream.Fault?
    var model: String
    var promptTokens: Int

    init(chat: ChatRequest, defaults: TestUpstream.Options) {
        // When the model is given tool results, the last user message is the one that started
        // the exchange; its directives apply to this step too.
        let last = chat.messages.last { $0.role == "user" }?.content ?? ""
        let directives = Self.directives(in: last)
        if let calls = ToolCallPlan(chat: chat) {
            answer = .toolCalls(calls)
        } else {
            var pieces: [String]
            if chat.messages.last?.role == "tool" {
                pieces = Self.words(Self.toolResults(in: chat.messages))
            } else {
                let text = Self.withoutDirectives(last)
                pieces = ["Echo:"] + text.split(separator: " ", omittingEmptySubsequences: false).map { " " + $0 }
            }
            let wanted = directives["tokens"].flatMap(Int.init) ?? defaults.tokens
            var filler = 0
            while pieces.count < wanted {
                filler += 1
                pieces.append(" word\(filler)")
            }
            answer = .text(pieces)
        }
        reasoning = chat.messages.last?.role == "user" ? directives["reasoning"].map(Self.words) ?? [] : []
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

    /// The text with its directives taken out, as the model is meant to read it.
    static func withoutDirectives(_ text: String) -> String {
        text.replacingOccurrences(of: #"\[\[[a-z]+=[^\]]*\]\]"#, with: "", options: .regularExpression)
            .trimmingCharacters(in: .whitespaces)
    }

    /// What the model answers once given tool results: the results after the last assistant
    /// message (that step's), so a test can check the model saw them.
    static func toolResults(in messages: [ChatRequest.Message]) -> String {
        let start = messages.lastIndex { $0.role == "assistant" }.map { $0 + 1 } ?? 0
        let results = messages[start...].filter { $0.role == "tool" }.map { $0.content ?? "" }
        return "Tool results: " + results.joined(separator: " | ")
    }

    /// Text in pieces of one word each with the space before it, like the echo reply's.
    static func words(_ text: String) -> [String] {
        let words = text.split(separator: " ", omittingEmptySubsequences: false)
        guard let first = words.first else { return [] }
        var pieces = [String(first)]
        for word in words.dropFirst() { pieces.append(" \(word)") }
        return pieces
    }

    /// The `delta` object of each chunk between the role chunk and the finish chunk; the usage
    /// counts one completion token per delta.
    var deltas: [String] {
        let thoughts = reasoning.map { "{\"reasoning_content\":\(Self.json($0))}" }
        switch answer {
        case .text(let pieces): return thoughts + pieces.map { "{\"content\":\(Self.json($0))}" }
        case .toolCalls(let calls): return thoughts + calls.deltas()
        }
    }

    var finishReason: String {
        switch answer {
        case .text: return "stop"
        case .toolCalls: return "tool_calls"
        }
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
        let deltas = self.deltas
        // Like llama.cpp: the first delta carries the role and a null content.
        var chunks = [(delayMS: firstDelayMS, text: chunk(#"{"role":"assistant","content":null}"#))]
        let half = fault == nil ? deltas.count : deltas.count / 2
        for (index, delta) in deltas.prefix(half).enumerated() {
            chunks.append((index > 0 ? delayMS : 0, chunk(delta)))
        }
        switch fault {
        case .errorEvent:
            chunks.append((0, "data: {\"error\":{\"message\":\"the model crashed\",\"type\":\"server_error\"}}\n\n"))
        case .vllmError:
            chunks.append((0, "data: {\"object\":\"error\",\"message\":\"the model crashed\",\"code\":500}\n\n"))
        case .hangMid, .hangFirst: return (chunks, true)
        case .cut: break  // closes with no finish reason and no [DONE]
        case .http500, .http429, .http401, nil:
            chunks.append((0, chunk("{}", finish: finishReason)))
            chunks.append((0, "data: {\"id\":\"\(id)\",\"object\":\"chat.completion.chunk\",\"choices\":[],\"usage\":{\"prompt_tokens\":\(promptTokens),\"completion_tokens\":\(deltas.count),\"total_tokens\":\(promptTokens + deltas.count)},\"timings\":{\"predicted_ms\":1.5}}\n\n"))
            chunks.append((0, "data: [DONE]\n\n"))
        }
        return (chunks, false)
    }

    func wholeReply() -> String {
        let message: String
        switch answer {
        case .text(let pieces):
            message = "{\"role\":\"assistant\",\"content\":\(Self.json(pieces.joined()))}"
        case .toolCalls(let calls):
            message = "{\"role\":\"assistant\",\"content\":null,\"tool_calls\":\(calls.json())}"
        }
        let completionTokens = deltas.count
        return "{\"id\":\"chatcmpl-test\",\"object\":\"chat.completion\",\"model\":\"\(model)\",\"choices\":[{\"index\":0,\"message\":\(message),\"finish_reason\":\"\(finishReason)\"}],\"usage\":{\"prompt_tokens\":\(promptTokens),\"completion_tokens\":\(completionTokens),\"total_tokens\":\(promptTokens + completionTokens)}}"
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
