import NIOCore
import ServerSentEvents

/// Turns the bytes of a streamed chat completion into deltas, one network read at a time. Not
/// async: everything it works with stays on the thread's stack, where the async function that
/// awaits the reads would keep it in its frame for the whole reply — 13 KB per open stream
/// when this ran inline (docs/PERFORMANCE.md).
struct ChatCompletionStreamReader {
    private var decoder = ServerSentEventParser()
    private var toolCalls = ToolCallAssembler()
    private(set) var finishReason: String?
    private(set) var usage: Usage?
    /// `[DONE]` came: the stream is over.
    private(set) var done = false
    /// An unreadable chunk or an error event: the stream failed after the deltas before it.
    private(set) var failure: ModelError?

    /// The tool calls the model asked for, put together from their fragments.
    var calls: [ToolCall] { toolCalls.calls }

    /// The deltas the read completes, in order, up to `[DONE]` or a `failure`.
    @inline(never)
    mutating func read(_ bytes: ByteBufferView) -> [ModelDelta] {
        var deltas: [ModelDelta] = []
        for event in decoder.feed(bytes) where !done && failure == nil {
            if event.data == "[DONE]" {
                done = true
                break
            }
            guard let chunk = OpenAIChunk(parsing: event.data) else {
                failure = .streamError("unreadable chunk: \(event.data.prefix(200))")
                break
            }
            if let message = chunk.errorMessage {
                failure = .streamError(message)
                break
            }
            if let reported = chunk.usage { usage = reported }
            if let text = chunk.reasoning, !text.isEmpty { deltas.append(.reasoning(text)) }
            if let text = chunk.content, !text.isEmpty { deltas.append(.text(text)) }
            for fragment in chunk.toolCalls { deltas += toolCalls.feed(fragment) }
            if let reason = chunk.finishReason { finishReason = reason }
        }
        return deltas
    }
}
