import ConfabCore
import Hummingbird

/// Once a shutdown starts, every new request is refused with 503, so a load balancer moves on
/// while the running replies are stored; liveness and metrics still answer.
struct ShutdownGate<Context: RequestContext>: RouterMiddleware {
    let activeTurns: ActiveTurns

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard activeTurns.isShuttingDown, !["/health", "/metrics"].contains(request.uri.path) else {
            return try await next(request, context)
        }
        throw APIError.shuttingDown
    }
}
