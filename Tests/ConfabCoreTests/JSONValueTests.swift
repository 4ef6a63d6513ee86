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

    @Test func readsStoredMessagesAsCodableDoes() throws {
        let full = ChatMessage(id: "m1", role: .assistant, content: "line\n\"quoted\" 😀", timestamp: 1_763_000_000.25,
                               status: .error, persona: "default", model: "qwen", finishReason: "error",
                               usage: Usage(promptTokens: 3, completionTokens: 4),
                               error: ErrorInfo(message: "slow down", type: "upstream_error", code: "upstream_http_429", retryAfter: 7),
                               reason: "client_disconnected")
        let bare = ChatMessage(id: "m2", role: .user, content: "", timestamp: 2)
        for message in [full, bare] {
            let stored = try JSONEncoder().encode(message)
            #expect(ChatMessage(json: try JSONValue.parse(bytes: Array(stored))) == message)
            #expect(try JSONDecoder().decode(ChatMessage.self, from: stored) == message)
        }
        // What Codable refuses is skipped here too: a missing or mistyped required field.
        #expect(ChatMessage(json: try JSONValue.parse(#"{"id":"x","role":"user","content":"hi","timestamp":1}"#)) == nil)
        #expect(ChatMessage(json: try JSONValue.parse(#"{"id":"x","role":"bot","content":"hi","timestamp":1,"status":"complete"}"#)) == nil)
    }

    @Test(arguments: ["", "{", "{\"a\":}", "[1,]", "{\"a\" 1}", "\"open", "tru", "{} extra", "\"\u{01}\"", "\"\\x\"",
                      String(repeating: "[", count: 65) + String(repeating: "]", count: 65)])
    func refusesWhatIsNotJSON(text: String) {
        #expect(throws: JSONValue.SyntaxError.self) { try JSONValue.parse(text) }
    }
}
