import Foundation

/// The tool calls the model makes in one step, decided from the last user message, and their
/// stream deltas: OpenAI style, per call a first fragment with its id and name, then its
/// arguments in fragments of `fragmentLength` characters.
///
/// Only when the request offers tools and the last message is the user's. Directives:
/// - `[[tool=NAME]]`, optionally followed by a JSON object (`[[tool=find_agents]] {"query":"x"}`):
///   one call of NAME with that object, or `{}`, as arguments. NAME need not be an offered tool,
///   so a test can have the model ask for an unknown one.
/// - `[[tool=NAME]] [[args=raw]]`: the same call with arguments that are not JSON (`rawArguments`).
/// - `[[tools=parallel]]`: `find_agents` with the rest of the message as its query, and
///   `current_time` with `{}`, at indexes 0 and 1, their fragments interleaved.
/// - `[[tools=index0]]`: the same two calls, both at index 0 and told apart only by their ids,
///   which then go on every fragment (some servers send parallel calls so).
///
/// With no directive, `Use the query '...'` calls `find_agents` with that query if it is offered,
/// so that a plain request, as a real model would read it, gets its tool call with no API key.
struct ToolCallPlan: Sendable {
    /// One call: its id, the tool's name, and the arguments exactly as they will be streamed.
    struct Call: Sendable {
        var id: String
        var name: String
        var arguments: String
    }

    var calls: [Call]
    /// Whether every call goes out at index 0, with its id on every fragment.
    var sharedIndex: Bool

    /// The arguments of `[[args=raw]]`: cut off mid-object, so not valid JSON.
    static let rawArguments = #"{"query": "#
    /// Characters of arguments per fragment: small, so that even `{"query":"x"}` arrives in
    /// several fragments and a client must join them.
    static let fragmentLength = 7

    /// Nil when the model answers with text instead.
    init?(chat: ChatRequest) {
        guard !chat.toolNames.isEmpty, let last = chat.messages.last, last.role == "user" else { return nil }
        let text = last.content ?? ""
        let directives = ReplyPlan.directives(in: text)
        let wanted: [(name: String, arguments: String)]
        var shared = false
        if let mode = directives["tools"], mode == "parallel" || mode == "index0" {
            let query = #"{"query":\#(ReplyPlan.json(ReplyPlan.withoutDirectives(text)))}"#
            wanted = [(name: "find_agents", arguments: query), (name: "current_time", arguments: "{}")]
            shared = mode == "index0"
        } else if let call = Self.named(in: text, raw: directives["args"] == "raw") {
            wanted = [call]
        } else if chat.toolNames.contains("find_agents"), let query = Self.quotedQuery(in: text) {
            wanted = [(name: "find_agents", arguments: #"{"query":\#(ReplyPlan.json(query))}"#)]
        } else {
            return nil
        }
        // Ids go on from the calls already in the conversation, so that they stay distinct across
        // the steps of a conversation yet are the same on every run.
        let earlier = chat.messages.reduce(0) { $0 + ($1.toolCalls?.count ?? 0) }
        calls = wanted.enumerated().map { offset, call in
            Call(id: "call_\(earlier + offset + 1)", name: call.name, arguments: call.arguments)
        }
        sharedIndex = shared
    }

    /// The call `[[tool=NAME]]` asks for: with `rawArguments`, or with the JSON object written
    /// right after the directive, or with `{}`.
    private static func named(in text: String, raw: Bool) -> (name: String, arguments: String)? {
        guard let directive = text.range(of: #"\[\[tool=[^\]]+\]\]"#, options: .regularExpression) else { return nil }
        let name = String(text[directive].dropFirst("[[tool=".count).dropLast("]]".count))
        if raw { return (name: name, arguments: rawArguments) }
        return (name: name, arguments: object(after: directive.upperBound, in: text) ?? "{}")
    }

    /// The JSON object that starts after `start`, past white space and any other directives,
    /// exactly as written (so a test can predict the fragments); nil if there is none or it is
    /// not valid JSON.
    private static func object(after start: String.Index, in text: String) -> String? {
        var rest = text[start...]
        while true {
            rest = rest.drop(while: { $0.isWhitespace })
            guard rest.hasPrefix("[["), let close = rest.range(of: "]]") else { break }
            rest = rest[close.upperBound...]
        }
        guard rest.first == "{" else { return nil }
        // Find the brace that closes the first one, skipping braces inside strings.
        var depth = 0
        var inString = false
        var escaped = false
        for index in rest.indices {
            let character = rest[index]
            if inString {
                if escaped {
                    escaped = false
                } else if character == "\\" {
                    escaped = true
                } else if character == "\"" {
                    inString = false
                }
            } else if character == "\"" {
                inString = true
            } else if character == "{" {
                depth += 1
            } else if character == "}" {
                depth -= 1
                if depth == 0 {
                    let object = String(rest[...index])
                    let parsed = try? JSONSerialization.jsonObject(with: Data(object.utf8))
                    return parsed is [String: Any] ? object : nil
                }
            }
        }
        return nil
    }

    /// The text quoted in `Use the query '...'`.
    private static func quotedQuery(in text: String) -> String? {
        let prefix = "Use the query '"
        guard let match = text.range(of: #"Use the query '[^']*'"#, options: .regularExpression) else { return nil }
        return String(text[match].dropFirst(prefix.count).dropLast())
    }

    /// The `delta` object of each chunk, in order. Parallel calls are interleaved, fragment by
    /// fragment, as a server generating them together sends them: a client must sort fragments
    /// by index (or, at a shared index, by id) rather than assume one call ends before the next.
    func deltas() -> [String] {
        let perCall = calls.enumerated().map { offset, call in fragments(of: call, at: sharedIndex ? 0 : offset) }
        let rounds = perCall.map(\.count).max() ?? 0
        var deltas: [String] = []
        for round in 0..<rounds {
            for callFragments in perCall where round < callFragments.count {
                deltas.append(callFragments[round])
            }
        }
        return deltas
    }

    /// One call's fragments: the first names it; the rest carry only its index, as OpenAI's do,
    /// unless calls share an index and the id is all that tells them apart.
    private func fragments(of call: Call, at index: Int) -> [String] {
        let id = ReplyPlan.json(call.id)
        var fragments = [
            #"{"tool_calls":[{"index":\#(index),"id":\#(id),"type":"function","function":{"name":\#(ReplyPlan.json(call.name)),"arguments":""}}]}"#,
        ]
        let idField = sharedIndex ? "\"id\":\(id)," : ""
        var rest = Substring(call.arguments)
        while !rest.isEmpty {
            let piece = String(rest.prefix(Self.fragmentLength))
            rest = rest.dropFirst(Self.fragmentLength)
            fragments.append(#"{"tool_calls":[{"index":\#(index),\#(idField)"function":{"arguments":\#(ReplyPlan.json(piece))}}]}"#)
        }
        return fragments
    }

    /// The calls as the `tool_calls` array of a whole (not streamed) reply.
    func json() -> String {
        let objects = calls.map { call in
            #"{"id":\#(ReplyPlan.json(call.id)),"type":"function","function":{"name":\#(ReplyPlan.json(call.name)),"arguments":\#(ReplyPlan.json(call.arguments))}}"#
        }
        return "[" + objects.joined(separator: ",") + "]"
    }
}
