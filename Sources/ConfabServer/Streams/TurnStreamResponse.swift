import ConfabCore
import Hummingbird

/// The one place a begun turn becomes a streamed HTTP response, for every front door: the
/// encoder says what the events look like, SSE frames them, and the disconnect policy says
/// what happens when the client leaves.
enum TurnStreamResponse {
    static func make<Encoder: StreamEncoder>(_ turn: Turn, encoder: Encoder, request: Request,
                                             onDisconnect: DisconnectPolicy) -> Response {
        Response(status: .ok, headers: Encoder.headers, body: .init { writer in
            var encoder = encoder
            func send(_ event: StreamEvent) async throws {
                var framer = SSEFramer()
                encoder.encode(event, into: &framer)
                if framer.buffer.readableBytes > 0 { try await writer.write(framer.buffer) }
            }
            let departure = ClientDeparture()
            if let connection = ConnectionPresence.current {
                connection.watch(departure)
                defer { connection.unwatch(departure) }
                try? await TurnRunner.stream(turn, onDisconnect: onDisconnect, departure: departure, send: send)
            } else {
                // A connection served some other way (Hummingbird's test client): its inbound
                // stream is watched instead, which closes the connection after the response.
                _ = try? await request.body.consumeWithInboundCloseHandler { _ in
                    try await TurnRunner.stream(turn, onDisconnect: onDisconnect, departure: departure, send: send)
                } onInboundClosed: {
                    departure.leave()
                }
            }
            try? await writer.finish(nil)
        })
    }
}
