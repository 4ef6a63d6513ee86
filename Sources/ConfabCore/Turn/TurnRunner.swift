/// Runs a turn that must outlive its request (`CONFAB_ON_DISCONNECT=continue`): the turn runs in
/// a task of its own and the HTTP handler only watches its events. When the client leaves, the
/// watching stops and the turn goes on to its end, storing the whole reply.
///
/// With the default policy (`cancel`) the handler's own task runs the turn instead, so the
/// client leaving cancels the model request at once and nothing is copied between tasks on the
/// hot path. The emit closure is the seam either way: a later step (resumable streams) appends
/// the events to a Redis stream here, for any instance to follow.
public enum TurnRunner {
    public static func detached(_ turn: Turn) -> AsyncStream<StreamEvent> {
        let (events, sink) = AsyncStream<StreamEvent>.makeStream()
        Task {
            await turn.run { sink.yield($0) }
            sink.finish()
        }
        return events
    }
}
