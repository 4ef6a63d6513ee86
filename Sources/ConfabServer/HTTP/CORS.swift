import Hummingbird

/// CORS for a configured list of origins (`*` for any). With no origins configured, no CORS
/// headers are sent and browsers keep the page's own origin only.
struct CORS<Context: RequestContext>: RouterMiddleware {
    let origins: [String]

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let origin = request.headers[.origin], let allowed = allowedOrigin(origin) else {
            return try await next(request, context)
        }
        if request.method == .options, request.headers[.accessControlRequestMethod] != nil {
            return Response(status: .noContent, headers: [
                .accessControlAllowOrigin: allowed,
                .accessControlAllowMethods: "GET, POST, PUT, PATCH, DELETE, OPTIONS",
                .accessControlAllowHeaders: request.headers[.accessControlRequestHeaders] ?? "Content-Type",
                .accessControlMaxAge: "600",
                .vary: "Origin",
            ])
        }
        var response = try await next(request, context)
        response.headers[.accessControlAllowOrigin] = allowed
        response.headers[.vary] = "Origin"
        // So a page on another origin can read its limits and when to retry.
        response.headers[.accessControlExposeHeaders] = Self.exposed
        return response
    }

    static var exposed: String { ["requests", "tokens"].flatMap { kind in ["limit", "remaining", "reset"].map { "x-ratelimit-\($0)-\(kind)" } }
        .joined(separator: ", ") + ", retry-after, x-confab-session-id" }

    private func allowedOrigin(_ origin: String) -> String? {
        if origins.contains("*") { return "*" }
        return origins.contains(origin) ? origin : nil
    }
}
