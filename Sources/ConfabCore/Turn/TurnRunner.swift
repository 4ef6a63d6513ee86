/// Runs a turn that must outlive its request (`CONFAB_ON_DISCONNECT=continue`): the turn runs in
/// a task of its own and the HTTP handler only watches its events. When the client leaves, the
/// watching stops and the turn goes on to its end, storing the whole reply.
///
/// With the default policy (`cancel`) the handler's own task runs the turn instead, so the
/// client leaving cancels the model request at once and nothing is copied between tasks on the
/// hot path. The emit closure is the seam either way: a later step (resumable streams) appends
/// the events to a Redis stream here, for any instance to follow.
public enum TurnRunner {
    /// Streams a begun turn through `send` as the disconnect policy says, for every door and
    /// transport: with `cancel` the caller's task runs the turn, so cancelling it (the client
    /// left) cancels the model request and stores the partial reply; with `continue` the turn
    /// runs on its own and the caller only watches, so the reply is finished and stored whole.
    /// `departure`, when given, is how the caller learns the client has gone without cancelling
    /// its own task (an HTTP stream's closed connection): it then ends the turn or the watching,
    /// as the policy says.
    public static func stream(_ turn: Turn, onDisconnect policy: DisconnectPolicy, departure: ClientDeparture? = nil,
                              send: (StreamEvent) async throws -> Void) async throws {
        switch policy {
        case .cancel:
            departure?.onLeave { turn.clientLeft() }
            await turn.run(emit: send)
        case .continue:
            let (events, sink) = AsyncStream<StreamEvent>.makeStream()
            departure?.onLeave { sink.finish() }  // the watching ends; the turn goes on
            Task {
                await turn.run { sink.yield($0) }
                sink.finish()
            }
            for await event in events { try await send(event) }
        }
    }
}
