import Hummingbird

/// Adds routes to a router and remembers them, so that every other method on a known path
/// answers 405 with an `Allow` header (Hummingbird would answer 404), and so the API's routes
/// can be listed.
final class RouteTable<Context: RequestContext> {
    let router: Router<Context>
    private(set) var methods: [String: [HTTPRequest.Method]] = [:]

    init(router: Router<Context>) { self.router = router }

    func on(_ method: HTTPRequest.Method, _ path: String,
            use handler: @escaping @Sendable (Request, Context) async throws -> Response) {
        router.on(RouterPath(path), method: method, use: handler)
        methods[path, default: []].append(method)
    }

    func get(_ path: String, use handler: @escaping @Sendable (Request, Context) async throws -> Response) { on(.get, path, use: handler) }
    func post(_ path: String, use handler: @escaping @Sendable (Request, Context) async throws -> Response) { on(.post, path, use: handler) }
    func delete(_ path: String, use handler: @escaping @Sendable (Request, Context) async throws -> Response) { on(.delete, path, use: handler) }

    /// Call once every route is added.
    func refuseOtherMethods() {
        let all: [HTTPRequest.Method] = [.get, .post, .put, .patch, .delete]
        for (path, allowed) in methods {
            let allow = allowed.map(\.rawValue).joined(separator: ", ")
            for method in all where !allowed.contains(method) {
                router.on(RouterPath(path), method: method) { request, _ -> Response in
                    throw APIError(.methodNotAllowed, code: "method_not_allowed",
                                   "\(request.method.rawValue) is not allowed here; use \(allow)",
                                   headers: [.allow: allow])
                }
            }
        }
    }
}
