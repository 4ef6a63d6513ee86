import ConfabCore
import Logging
import ServiceLifecycle

/// On shutdown: refuses new turns and ends the running ones, waiting at most `grace`.
struct TurnDrainService: Service {
    let activeTurns: ActiveTurns
    let grace: Duration
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        logger.info("shutting down", metadata: ["active_turns": "\(activeTurns.count)"])
        await withTaskGroup(of: Void.self) { group in
            group.addTask { await activeTurns.shutdown() }
            group.addTask { try? await Task.sleep(for: grace) }
            await group.next()
            group.cancelAll()
        }
    }
}
