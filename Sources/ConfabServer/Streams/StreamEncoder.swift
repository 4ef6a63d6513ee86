import ConfabCore
import HTTPTypes

/// Turns a turn's events into one wire protocol's payloads. Stateful where the protocol needs
/// it (which text part is open, tool names by call id); one per streamed reply.
protocol StreamEncoder: Sendable {
    /// The response headers that announce the protocol.
    static var headers: HTTPFields { get }
    mutating func encode(_ event: StreamEvent, into framer: inout some StreamFramer)
}

/// The wire formats a streamed reply can take, chosen per request.
enum StreamFormat: String, Sendable {
    /// Confab's own, for the page and EventSource: `{"content"}` per piece, typed objects otherwise.
    case confab
    /// The Vercel AI SDK UI message stream v1, for `useChat`.
    case aiSDK = "ai-sdk"

    /// `format=` in the query or body, or the `X-Confab-Stream` header.
    init?(requested: String?) {
        guard let requested, !requested.isEmpty else { self = .confab; return }
        self.init(rawValue: requested)
    }
}

extension HTTPFields {
    /// What every SSE response carries.
    static let eventStream: HTTPFields = [
        .contentType: "text/event-stream",
        .cacheControl: "no-cache",
        HTTPField.Name("X-Accel-Buffering")!: "no",
    ]
}
