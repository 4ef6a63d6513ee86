import Foundation

/// The part of an OpenAI chat-completions request body this upstream reads; other fields are
/// ignored, as real servers ignore fields they do not know.
struct ChatRequest: Decodable, Sendable {
    /// One message of the conversation.
    struct Message: Decodable, Sendable {
        var role: String
        /// Null or absent on an assistant message that only calls tools.
        var content: String?
        /// On a `tool` message: the call whose result this is.
        var toolCallID: String?
        /// On an `assistant` message: the calls it made, as the client replays them.
        var toolCalls: [ToolCall]?

        enum CodingKeys: String, CodingKey {
            case role, content
            case toolCallID = "tool_call_id"
            case toolCalls = "tool_calls"
        }
    }

    /// A tool call an assistant message made earlier in the conversation.
    struct ToolCall: Decodable, Sendable {
        struct Function: Decodable, Sendable {
            var name: String
            var arguments: String
        }

        var id: String
        var type: String?
        var function: Function
    }

    /// A tool offered to the model: only its name matters here, not its description or schema.
    struct Tool: Decodable, Sendable {
        struct Function: Decodable, Sendable { var name: String }

        /// Absent for tools that are not functions, which this upstream never calls.
        var function: Function?
    }

    var model: String?
    var messages: [Message]
    var stream: Bool?
    var tools: [Tool]?

    /// The names of the offered tools; empty when the request offers none.
    var toolNames: [String] { tools?.compactMap { $0.function?.name } ?? [] }
}
