import Foundation
import Hummingbird

/// Refuses a query string whose percent-escapes do not decode to UTF-8 (`%FF`), which would
/// otherwise reach a handler as replacement characters or undecoded text.
struct QueryEncodingCheck<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let query = request.uri.query, query.contains("%"), query.replacingOccurrences(of: "+", with: " ").removingPercentEncoding == nil {
            throw APIError(.badRequest, code: "invalid_utf8", "the query string is not valid UTF-8 once decoded")
        }
        return try await next(request, context)
    }
}
