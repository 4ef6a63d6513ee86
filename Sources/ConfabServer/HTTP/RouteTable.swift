import Hummingbird
import NIOConcurrencyHelpers

/// Adds routes to a router and remembers them, so the API's routes can be listed and so that
/// any other method on a known path answers 405 with an `Allow` header (Hummingbird would
/// answer 404): see `MethodCheck`.
final class RouteTable<Context: RequestContext> {
    let router: Router<Context>
    let paths = RoutePaths()

    init(router: Router<Context>) { self.router = router }

    var methods: [String: [HTTPRequest.Method]] { paths.methods }

    func on(_ method: HTTPRequest.Method, _ path: String,
            use handler: @escaping @Sendable (Request, Context) async throws -> Response) {
        router.on(RouterPath(path), method: method, use: handler)
        paths.add(method, path)
    }

    func get(_ path: String, use handler: @escaping @Sendable (Request, Context) async throws -> Response) { on(.get, path, use: handler) }
    func post(_ path: String, use handler: @escaping @Sendable (Request, Context) async throws -> Response) { on(.post, path, use: handler) }
    func put(_ path: String, use handler: @escaping @Sendable (Request, Context) async throws -> Response) { on(.put, path, use: handler) }
    func delete(_ path: String, use handler: @escaping @Sendable (Request, Context) async throws -> Response) { on(.delete, path, use: handler) }
    func patch(_ path: String, use handler: @escaping @Sendable (Request, Context) async throws -> Response) { on(.patch, path, use: handler) }
}

/// The routes' paths (`/chat/history/{session_id}`) with their methods.
final class RoutePaths: Sendable {
    /// A route's path cut into segments once, filed by how many it has: every request is
    /// checked against them (splitting every pattern per request cost ~6% of a chat turn).
    private struct Pattern {
        var segments: [String]
        var parameters: Int
        var methods: [HTTPRequest.Method]
    }

    private struct Table {
        var methods: [String: [HTTPRequest.Method]] = [:]
        var patterns: [Int: [String: Pattern]] = [:]
    }

    private let table = NIOLockedValueBox(Table())

    var methods: [String: [HTTPRequest.Method]] { table.withLockedValue { $0.methods } }

    func add(_ method: HTTPRequest.Method, _ path: String) {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
        table.withLockedValue { table in
            table.methods[path, default: []].append(method)
            table.patterns[segments.count, default: [:]][path] = Pattern(segments: segments, parameters: segments.count { $0.hasPrefix("{") },
                                                                        methods: table.methods[path] ?? [])
        }
    }

    /// The methods of the route matching `path`, where `{name}` matches any one segment; nil
    /// when no route has this path. Like the router, a literal segment wins over a parameter
    /// (`/api/v1/agents/templates` is not `/api/v1/agents/{agent_id}`).
    func allowed(at path: String) -> [HTTPRequest.Method]? {
        let segments = path.split(separator: "/", omittingEmptySubsequences: false)
        guard let candidates = table.withLockedValue({ $0.patterns[segments.count] }) else { return nil }
        var best: Pattern?
        for pattern in candidates.values where best.map({ pattern.parameters < $0.parameters }) ?? true {
            if zip(pattern.segments, segments).allSatisfy({ part, segment in part.hasPrefix("{") ? !segment.isEmpty : part == segment }) {
                best = pattern
            }
        }
        return best?.methods
    }
}

/// Answers 405 with `Allow` for a method a known path does not take — any method, TRACE and
/// QUERY included — before the router would answer 404.
struct MethodCheck<Context: RequestContext>: RouterMiddleware {
    let routes: RoutePaths

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let allowed = routes.allowed(at: request.uri.path) else { return try await next(request, context) }
        let accepted = allowed + (allowed.contains(.get) ? [.head] : []) + [.options]
        guard accepted.contains(request.method) else {
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            throw APIError(.methodNotAllowed, code: "method_not_allowed",
                           "\(request.method.rawValue) is not allowed here; use \(allow)", headers: [.allow: allow])
        }
        return try await next(request, context)
    }
}
