import Hummingbird

/// The first middleware of the WebSocket router: whatever refuses an upgrade (credentials,
/// limits, the route's own checks, no such route) leaves its answer for `UpgradeRefusalHandler`.
struct UpgradeRefusalMiddleware: RouterMiddleware {
    typealias Context = ConfabRequestContext

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch {
            let apiError = error as? APIError ?? (error as? HTTPResponseError).map {
                APIError(.init(code: $0.status.code), code: "upgrade_refused", "the WebSocket upgrade was refused")
            } ?? APIError(.internalServerError, code: "internal_error", "the WebSocket upgrade failed")
            let headers = apiError.headers.map { ($0.name.rawName, $0.value) }
            await UpgradeRefusalHandler.leave(UpgradeRefusal(status: apiError.status.code, headers: headers,
                                                             body: apiError.body(path: request.uri.path).serialized),
                                              on: context.channel)
            throw error
        }
    }
}
