/// Why a WebSocket upgrade was refused, as the HTTP API would answer the same request.
struct UpgradeRefusal: Sendable {
    var status: Int
    var headers: [(String, String)]
    var body: String
}
