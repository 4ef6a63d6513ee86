@testable import ConfabCore
import Foundation
import Testing

/// The per-token JSON reader agrees with Foundation and refuses what is not JSON.
@Suite struct JSONValueTests {
    @Test func readsStringsAsFoundationWritesThem() throws {
        var samples = ["", "plain", "quote \" backslash \\ slash /", "tab\tnew\nline\r", "\u{01}\u{1F}",
                       "émoji 😀 and 中文", "\u{FFFF}", "𝄞 clef"]
        var random = SystemRandomNumberGenerator()
        for _ in 0..<200 {
            let scalars = (0..<Int.random(in: 0...20, using: &random)).compactMap { _ in
                Unicode.Scalar(UInt32.random(in: 0...0x1_FFFF, using: &random))
            }
            samples.append(String(String.UnicodeScalarView(scalars)))
        }
        for sample in samples {
            let encoded = String(decoding: try JSONSerialization.data(withJSONObject: ["content": sample]), as: UTF8.self)
            #expect(try JSONValue.parse(encoded)["content"]?.string == sample, "\(encoded)")
        }
        #expect(try JSONValue.parse(#""\ud83d\ude00 \u00e9""#).string == "😀 é")
        #expect(try JSONValue.parse(#""\ud83d alone""#).string == "\u{FFFD} alone")
    }

    @Test func readsAnOpenAIChunk() throws {
        let chunk = try #require(OpenAIChunk(parsing: """
            {"id":"x","choices":[{"index":0,"delta":{"content":"Hi"},"finish_reason":null}],
             "usage":{"prompt_tokens":3,"completion_tokens":5,"total_tokens":8},"n":-1.5e2,"ok":true}
            """))
        #expect(chunk.content == "Hi")
        #expect(chunk.finishReason == nil)
        #expect(chunk.usage == Usage(promptTokens: 3, completionTokens: 5, totalTokens: 8))
        #expect(chunk.errorMessage == nil)
        #expect(OpenAIChunk(parsing: #"{"error":{"message":"boom"}}"#)?.errorMessage == "boom")
        #expect(OpenAIChunk(parsing: #"{"object":"error","message":"vllm"}"#)?.errorMessage == "vllm")
        #expect(OpenAIChunk(parsing: #"{"error":null,"choices":[]}"#)?.errorMessage == nil)
    }

    /// The chunk reader reads only the fields it needs; what it skips must still be JSON, and it
    /// reads the same fields whatever else is around them.
    @Test func readsAChunksFieldsAndChecksWhatItSkips() throws {
        let busy = try #require(OpenAIChunk(parsing: #"""
            {"id":"chatcmpl-\\\"x\u00e9","created":1,"system_fingerprint":null,"extra":{"a":[1,{"b":[true,false,null]}],"c":"\n"},
             "choices":[{"index":0,"logprobs":null,"delta":{"role":"assistant","reasoning":"think","content":"caf\u00e9 \ud83d\ude00",
             "tool_calls":[{"index":0,"id":"call_1","function":{"name":"f","arguments":"{}"}}]},"finish_reason":"tool_calls"},
             {"index":1,"delta":{"content":"second choice"}}]}
            """#))
        #expect(busy.content == "café 😀")
        #expect(busy.reasoning == "think")
        #expect(busy.toolCalls == [ToolCallFragment(index: 0, id: "call_1", name: "f", arguments: "{}")])
        #expect(busy.finishReason == "tool_calls")
        #expect(OpenAIChunk(parsing: #"{"choices":[{"delta":{"reasoning_content":"a","reasoning":"b","content":null}}]}"#)?.reasoning == "a")
        #expect(OpenAIChunk(parsing: #"{"cho\u0069ces":[{"delta":{"content":"escaped key"}}]}"#)?.content == "escaped key")
        #expect(OpenAIChunk(parsing: #"[1,2]"#)?.content == nil)
        // A key given twice: the last one counts, as a whole parse reads it.
        #expect(OpenAIChunk(parsing: #"{"choices":[{"delta":{"content":"a"}}],"choices":null}"#)?.content == nil)
        #expect(OpenAIChunk(parsing: #"{"error":{"message":"x"},"error":null}"#)?.errorMessage == nil)
        // Skipped values nest as deep as a whole parse allows.
        let deep = String(repeating: "[", count: 62) + String(repeating: "]", count: 62)
        #expect(OpenAIChunk(parsing: #"{"extra":\#(deep),"choices":[{"delta":{"content":"deep"}}]}"#)?.content == "deep")
        #expect((try? JSONValue.parse(#"{"extra":\#(deep)}"#)) != nil)
        for broken in [#"{"id":"x","choices":[}"#, #"{"id":"x\q","choices":[]}"#, #"{"id":tru,"choices":[]}"#,
                       #"{"choices":[{"delta":{"content":"x"}}]} trailing"#, #"{"x":"\u12"}"#, "", #"{"a":1,}"#] {
            #expect(OpenAIChunk(parsing: broken) == nil, "\(broken)")
        }
    }

    @Test func readsStoredMessagesAsCodableDoes() throws {
        let full = ChatMessage(id: "m1", role: .assistant, content: "line\n\"quoted\" 😀", timestamp: 1_763_000_000.25,
                               status: .error, persona: "default", model: "qwen", finishReason: "error",
                               usage: Usage(promptTokens: 3, completionTokens: 4),
                               error: ErrorInfo(message: "slow down", type: "upstream_error", code: "upstream_http_429", retryAfter: 7),
                               reason: "client_disconnected")
        let bare = ChatMessage(id: "m2", role: .user, content: "", timestamp: 2)
        for message in [full, bare] {
            let stored = try JSONEncoder().encode(message)
            #expect(ChatMessage(stored: Array(stored)) == message)
            #expect(try JSONDecoder().decode(ChatMessage.self, from: stored) == message)
        }
        // What Codable refuses is skipped here too: a missing or mistyped required field.
        #expect(ChatMessage(stored: Array(#"{"id":"x","role":"user","content":"hi","timestamp":1}"#.utf8)) == nil)
        #expect(ChatMessage(stored: Array(#"{"id":"x","role":"bot","content":"hi","timestamp":1,"status":"complete"}"#.utf8)) == nil)
        #expect(ChatMessage(stored: Array(#"{"id":7,"role":"user","content":"hi","timestamp":1,"status":"complete"}"#.utf8)) == nil)
        #expect(ChatMessage(stored: Array(#"{"id":"x","role":"user","content":"hi","timestamp":"1","status":"complete"}"#.utf8)) == nil)
        #expect(ChatMessage(stored: Array(#"{"id":"x","role":"user","content":"hi","timestamp":1,"status":"complete"} x"#.utf8)) == nil)
        // Null optional fields, unknown fields (skipped) and a key given twice (the last counts).
        let read = ChatMessage(stored: Array(#"{"id":"x","id":"y","role":"user","content":"hi","timestamp":1,"status":"complete","persona":null,"extra":{"a":[1,"b"]}}"#.utf8))
        #expect(read == ChatMessage(id: "y", role: .user, content: "hi", timestamp: 1))
    }

    @Test(arguments: ["", "{", "{\"a\":}", "[1,]", "{\"a\" 1}", "\"open", "tru", "{} extra", "\"\u{01}\"", "\"\\x\"",
                      String(repeating: "[", count: 65) + String(repeating: "]", count: 65)])
    func refusesWhatIsNotJSON(text: String) {
        #expect(throws: JSONValue.SyntaxError.self) { try JSONValue.parse(text) }
    }
}

/// The model request written by hand says what the `Encodable` conformances say.
@Suite struct ChatCompletionRequestBodyTests {
    @Test func writesWhatTheEncoderWrites() throws {
        let messages = [
            PromptMessage(role: "system", content: "be \"brief\"\n\tand kind \\ 😀 \u{01}"),
            PromptMessage(role: "assistant", content: nil,
                          toolCalls: [ToolCall(id: "call_1", name: "current_time", arguments: #"{"zone":"UTC"}"#)]),
            PromptMessage(role: "tool", content: "12:00", toolCallID: "call_1"),
            PromptMessage(role: "user", content: "héllo"),
        ]
        let tool = ToolSpec(name: "current_time", description: "now", parameters: ["type": "object"])
        let body = try ChatCompletionRequestBody(model: "m\"x", messages: messages, maxTokens: 64, temperature: 0.7, tools: [tool]).json()
        let written = try JSONValue.parse(bytes: body)
        #expect(written["messages"] == (try JSONValue.parse(bytes: Array(JSONEncoder().encode(messages)))))
        #expect(written["tools"] == (try JSONValue.parse(bytes: Array(JSONEncoder().encode([tool])))))
        #expect(written["model"] == "m\"x")
        #expect(written["max_tokens"] == 64)
        #expect(written["temperature"]?.double == 0.7)
        #expect(written["stream"] == true)
        #expect(written["stream_options"]?["include_usage"] == true)
        let bare = try JSONValue.parse(bytes: ChatCompletionRequestBody(model: "m", messages: [], maxTokens: nil, temperature: nil, tools: []).json())
        #expect(bare["max_tokens"] == nil && bare["temperature"] == nil && bare["tools"] == nil && bare["messages"] == [])
    }
}
