import ConfabCore
import Hummingbird
import Prometheus

/// Personas, liveness, readiness and metrics.
struct ServiceController<Context: RequestContext>: Sendable {
    let store: any ConversationStore
    let personas: PersonaCatalog
    let metrics: PrometheusCollectorRegistry

    func addRoutes(to router: RouteTable<Context>) {
        router.get("/roles", use: roles)
        router.get("/health", use: health)
        router.get("/ready", use: ready)
        router.get("/metrics", use: scrape)
    }

    /// `GET /roles` — the personas (without their system prompts) and the default.
    @Sendable func roles(_ request: Request, context: Context) async throws -> Response {
        try JSONBody.response(RoleList(roles: personas.personas.map { RoleList.Role(id: $0.id, name: $0.name, description: $0.description) },
                                       default_role: personas.defaultID))
    }

    /// `GET /health` — the process is up.
    @Sendable func health(_ request: Request, context: Context) async throws -> Response {
        try JSONBody.response(["status": "ok"])
    }

    /// `GET /ready` — 200 only while Redis answers (during a shutdown `ShutdownGate` answers 503).
    @Sendable func ready(_ request: Request, context: Context) async throws -> Response {
        try await storage { try await store.ping() }
        return try JSONBody.response(["status": "ready"])
    }

    /// `GET /metrics` — Prometheus text format.
    @Sendable func scrape(_ request: Request, context: Context) async throws -> Response {
        var text: [UInt8] = []
        metrics.emit(into: &text)
        return Response(status: .ok, headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                        body: .init(byteBuffer: ByteBuffer(bytes: text)))
    }
}

struct RoleList: Encodable {
    struct Role: Encodable { var id, name, description: String }
    var roles: [Role]
    var default_role: String
}
