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
    public static func stream(_ turn: Turn, onDisconnect policy: DisconnectPolicy,
                              send: (StreamEvent) async throws -> Void) async throws {
        switch policy {
        case .cancel: await turn.run(emit: send)
        case .continue: for await event in detached(turn) { try await send(event) }
        }
    }

    public static func detached(_ turn: Turn) -> AsyncStream<StreamEvent> {
        let (events, sink) = AsyncStream<StreamEvent>.makeStream()
        Task {
            await turn.run { sink.yield($0) }
            sink.finish()
        }
        return events
    }
}
