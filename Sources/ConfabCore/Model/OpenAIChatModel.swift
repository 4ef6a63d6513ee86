import AsyncHTTPClient
import Foundation
import NIOCore

/// A model behind any OpenAI-compatible `POST {base}/chat/completions` that streams SSE.
public struct OpenAIChatModel: ChatModel {
    /// Where the server is, which model to ask for, and how long to wait for it to answer.
    public struct Configuration: Sendable {
        public var baseURL: String
        public var apiKey: String?
        public var model: String
        public var maxTokens: Int?
        /// How long to wait for the response head; the turn's own deadlines cover the body.
        public var headTimeoutSeconds: Double

        public init(baseURL: String, apiKey: String?, model: String, maxTokens: Int?, headTimeoutSeconds: Double) {
            self.baseURL = baseURL
            self.apiKey = apiKey
            self.model = model
            self.maxTokens = maxTokens
            self.headTimeoutSeconds = headTimeoutSeconds
        }
    }

    let client: HTTPClient
    let configuration: Configuration
    public var name: String { configuration.model }

    public init(client: HTTPClient, configuration: Configuration) {
        self.client = client
        self.configuration = configuration
    }

    public func streamReply(to prompt: [PromptMessage], tools: [ToolSpec], choice: ModelChoice, capture: DebugCapture?,
                            onDelta: @Sendable (ModelDelta) async throws -> Void) async throws -> ModelCompletion {
        let body = try ChatCompletionRequestBody(model: choice.model ?? configuration.model, messages: prompt,
                                                 maxTokens: configuration.maxTokens, temperature: choice.temperature, tools: tools).json()
        capture?.request(Array(body))
        var request = HTTPClientRequest(url: configuration.baseURL.trimmingSuffix("/") + "/chat/completions")
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        request.headers.add(name: "Accept", value: "text/event-stream")
        if let key = configuration.apiKey, !key.isEmpty { request.headers.add(name: "Authorization", value: "Bearer \(key)") }
        request.body = .bytes(ByteBuffer(bytes: body))

        let headTimeout = TimeAmount.milliseconds(Int64(configuration.headTimeoutSeconds * 1000))
        let response = try await mapErrors {
            do {
                return try await client.execute(request, timeout: headTimeout)
            } catch where Self.isStaleConnection(error) {
                // A pooled keep-alive connection the server closed as we sent (servers close idle
                // ones: uvicorn after 5 s): nothing was generated, so ask once more, as OpenAI's
                // own clients do.
                return try await client.execute(request, timeout: headTimeout)
            }
        }
        capture?.status(Int(response.status.code))
        guard response.status == .ok else { throw await Self.httpError(response, capture: capture) }

        let reader = try await mapErrors { try await Self.read(response.body, capture: capture, onDelta: onDelta) }
        return ModelCompletion(finishReason: reader.finishReason ?? "stop", usage: reader.usage, toolCalls: reader.calls)
    }

    /// Relays the streamed reply's deltas as they come; only the reader and the body's iterator
    /// are kept across the waits.
    private static func read(_ body: HTTPClientResponse.Body, capture: DebugCapture?,
                             onDelta: @Sendable (ModelDelta) async throws -> Void) async throws -> ChatCompletionStreamReader {
        var reader = ChatCompletionStreamReader()
        for try await buffer in body {
            capture?.response(buffer.readableBytesView)
            for delta in reader.read(buffer.readableBytesView) { try await onDelta(delta) }
            if let failure = reader.failure { throw failure }
            if reader.done { return reader }
        }
        // Ended without [DONE]: a finish reason means the reply is whole, otherwise it was cut.
        if reader.finishReason == nil { throw ModelError.interrupted }
        return reader
    }

    /// How a request on a connection the server had just closed fails, depending on when the
    /// close is noticed: before the write, during it, or when reading the answer.
    private static func isStaleConnection(_ error: any Error) -> Bool {
        switch error {
        case let error as HTTPClientError: error == .remoteConnectionClosed
        case let error as ChannelError: error == .ioOnClosedChannel || error == .eof
        case let error as IOError: error.errnoCode == ECONNRESET || error.errnoCode == EPIPE
        default: false
        }
    }

    /// Keeps ModelError and cancellation as they are; any other failure is the transport's.
    private func mapErrors<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ModelError {
            throw error
        } catch {
            if Task.isCancelled { throw CancellationError() }
            if let error = error as? HTTPClientError, error == .deadlineExceeded || error == .readTimeout {
                throw ModelError.timeout("first_token")
            }
            throw ModelError.transport("\(error)")
        }
    }

    private static func httpError(_ response: HTTPClientResponse, capture: DebugCapture?) async -> ModelError {
        let body = (try? await response.body.collect(upTo: 64 * 1024)) ?? ByteBuffer()
        capture?.response(body.readableBytesView)
        let text = String(buffer: body)
        let message = OpenAIChunk(parsing: text)?.errorMessage
            ?? String(text.prefix(300))
        return .http(status: Int(response.status.code), message: message, retryAfter: response.headers.first(name: "retry-after"))
    }
}

extension String {
    func trimmingSuffix(_ suffix: String) -> String {
        hasSuffix(suffix) ? String(dropLast(suffix.count)) : self
    }
}
