import ConfabCore
import Hummingbird

/// The one place a begun turn becomes a streamed HTTP response, for every front door: the
/// encoder says what the events look like, SSE frames them, and the disconnect policy says
/// what happens when the client leaves.
enum TurnStreamResponse {
    static func make<Encoder: StreamEncoder>(_ turn: Turn, encoder: Encoder, request: Request,
                                             onDisconnect: DisconnectPolicy) -> Response {
        Response(status: .ok, headers: Encoder.headers, body: .init { writer in
            // Cancelled within ~50 ms of the client closing its connection.
            _ = try? await request.body.consumeWithCancellationOnInboundClose { _ in
                var encoder = encoder
                func send(_ event: StreamEvent) async throws {
                    var framer = SSEFramer()
                    encoder.encode(event, into: &framer)
                    if framer.buffer.readableBytes > 0 { try await writer.write(framer.buffer) }
                }
                try await TurnRunner.stream(turn, onDisconnect: onDisconnect, send: send)
            }
            try? await writer.finish(nil)
        })
    }
}
