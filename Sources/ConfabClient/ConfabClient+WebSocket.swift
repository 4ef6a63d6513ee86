import HTTPTypes
import HummingbirdWSClient
import Logging
import NIOConcurrencyHelpers
import NIOCore

/// `/chat/ws`, Confab's WebSocket protocol (docs/WEBSOCKET.md), over HummingbirdWSClient.
extension ConfabClient {
    /// The largest message read from the socket; every event the server sends is far smaller.
    static let maximumSocketMessageBytes = 1 << 20

    /// Opens a socket to `/chat/ws` with this client's credentials, runs `body` with it, and
    /// closes it when `body` returns; answers what `body` answers.
    ///
    /// Failing to open it throws a ``ConfabClientError``: ``ConfabClientError/unreachable(_:)``
    /// when no connection could be made, ``ConfabClientError/server(status:code:message:retryAfter:)``
    /// when the server refused the upgrade (401 for a wrong key, 404 for a server without the
    /// route). Errors `body` throws pass through as they are. Opening is not retried.
    ///
    /// `body` is escaping because the WebSocket client keeps its handler until the connection's
    /// last callback has run, which can be after a failed connect has returned.
    public func withChatSocket<Result: Sendable>(_ body: @escaping @Sendable (ChatSocket) async throws -> Result) async throws -> Result {
        let url = try webSocketURL("/chat/ws")
        var headers = HTTPFields()
        if let apiKey { headers[.authorization] = "Bearer \(apiKey)" }
        let configuration = WebSocketClientConfiguration(maxFrameSize: Self.maximumSocketMessageBytes, additionalHeaders: headers)
        // Whether `body` ran, and its answer: its own errors pass through untouched.
        let outcome = NIOLockedValueBox<(entered: Bool, value: Result?)>((false, nil))
        do {
            _ = try await WebSocketClient.connect(url: url, configuration: configuration, logger: Self.socketLogger) { inbound, outbound, _ in
                outcome.withLockedValue { $0.entered = true }
                let value = try await Self.run(body, inbound: inbound, outbound: outbound)
                outcome.withLockedValue { $0.value = value }
            }
        } catch {
            let (entered, value) = outcome.withLockedValue { $0 }
            // Once `body` has answered, a failed close handshake changes nothing.
            if let value { return value }
            if entered { throw error }
            throw await openingError(error)
        }
        guard let value = outcome.withLockedValue({ $0.value }) else {
            throw ConfabClientError.unreachable("the socket closed before it could be used")
        }
        return value
    }

    /// Runs `body` beside the task that reads the socket; then closes the socket, letting the
    /// reader see the server's closing frame for a moment before it is cancelled.
    private static func run<Result: Sendable>(_ body: @Sendable (ChatSocket) async throws -> Result, inbound: WebSocketInboundStream,
                                              outbound: WebSocketOutboundWriter) async throws -> Result {
        let router = ChatSocketRouter()
        return try await withThrowingTaskGroup(of: Void.self) { group in
            group.addTask {
                do {
                    for try await message in inbound.messages(maxSize: maximumSocketMessageBytes) {
                        if case .text(let text) = message { router.receive(text) }
                    }
                    router.close(reason: "the server closed the socket")
                } catch {
                    router.close(reason: "the socket broke: \(error)")
                }
            }
            defer { group.cancelAll() }
            let value = try await body(ChatSocket(writer: outbound, router: router))
            router.close(reason: "the client closed the socket")
            try? await outbound.close(.normalClosure, reason: nil)
            group.addTask { try await Task.sleep(for: .seconds(2)) }
            _ = try? await group.next()
            return value
        }
    }

    /// `ws://` or `wss://` and `path` on the base URL's host.
    func webSocketURL(_ path: String) throws(ConfabClientError) -> String {
        if baseURL.hasPrefix("https://") { return "wss://" + baseURL.dropFirst("https://".count) + path }
        if baseURL.hasPrefix("http://") { return "ws://" + baseURL.dropFirst("http://".count) + path }
        throw .invalidURL(baseURL + path)
    }

    /// What a failure to open the socket means. The WebSocket client says only that the upgrade
    /// was declined, so the route is asked once over plain HTTP for the API's own error.
    private func openingError(_ error: any Error) async -> ConfabClientError {
        if let error = error as? ConfabClientError { return error }
        guard let refusal = error as? WebSocketClientError, refusal == .webSocketUpgradeFailed else {
            return .unreachable(String(describing: error))
        }
        do {
            _ = try await send(.GET, "/chat/ws", as: JSONValue.self)
        } catch where error.status != nil {
            return error
        } catch {}
        return .invalidResponse("the server did not upgrade /chat/ws to a WebSocket")
    }

    /// The WebSocket client's own logging, off: failures reach the caller as errors.
    private static let socketLogger = Logger(label: "confab.client.websocket") { _ in SwiftLogNoOpLogHandler() }
}
