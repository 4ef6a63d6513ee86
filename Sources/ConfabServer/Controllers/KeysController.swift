import ConfabCore
import Foundation
import Hummingbird

/// A user's API keys: make one (the secret is shown once), list them, revoke one. A revoked
/// key fails at its next request on every instance: keys are checked in Redis each time.
struct KeysController: Sendable {
    typealias Context = ConfabRequestContext
    let accounts: any AccountStore
    let validate: Validation

    func addRoutes(to router: RouteTable<Context>) {
        router.post("/api/v1/keys", use: create)
        router.get("/api/v1/keys", use: list)
        router.delete("/api/v1/keys/{key_id}", use: revoke)
    }

    /// `POST /api/v1/keys` {name?, limits?} → 201 with the key, shown this once.
    @Sendable func create(_ request: Request, context: Context) async throws -> Response {
        var request = request
        let user = try validate.signedIn(context)
        // Else a limited key could make itself an unlimited one.
        if let key = user.key, !key.limits.isEmpty {
            throw APIError(.forbidden, code: "key_has_limits", "a key with limits cannot make keys; use an access token or an unlimited key")
        }
        let body = try await validate.decode(KeyRequest.self, from: &request)
        let name = try validate.displayName(body.name ?? "key", field: "name")
        let limits = try validate.limits(body.limits)
        let most = validate.settings.identity.maxKeysPerUser
        guard let issued = try await KeyIssuer(accounts: accounts).issue(for: user.account.id, name: name, limits: limits, most: most) else {
            throw APIError(.conflict, code: "key_limit_reached", "this user has \(most) keys, the most allowed; revoke one first")
        }
        return try JSONBody.response(issued, status: .created)
    }

    /// `GET /api/v1/keys` → the keys, without their secrets.
    @Sendable func list(_ request: Request, context: Context) async throws -> Response {
        let user = try validate.signedIn(context)
        let keys = try await storage { try await accounts.keys(user: user.account.id) }
        return try JSONBody.response(["keys": keys.map(KeyView.init)])
    }

    /// `DELETE /api/v1/keys/{key_id}` → revoked; 404 for a key that is not the user's.
    @Sendable func revoke(_ request: Request, context: Context) async throws -> Response {
        let user = try validate.signedIn(context)
        guard let id = context.parameters.get("key_id"), Identifier.isValid(id, prefix: "key_", length: 10) else {
            throw APIError(.badRequest, code: "invalid_key_id", "key_id must look like key_ followed by 10 letters or digits")
        }
        guard try await storage({ try await accounts.deleteKey(user: user.account.id, id: id) }) else {
            throw APIError(.notFound, code: "key_not_found", "no such key for this user")
        }
        return try JSONBody.response(["id": .string(id), "revoked": JSONValue.bool(true)])
    }
}

/// Makes an API key and stores its hash.
struct KeyIssuer {
    let accounts: any AccountStore

    /// The new key, or nil when the user has `most` keys already.
    func issue(for userID: String, name: String, limits: RateLimits, most: Int) async throws -> NewKeyReply? {
        let secret = APIKeySecret.make(for: userID)
        let record = APIKeyRecord(id: secret.keyID, name: name, prefix: secret.prefix, hash: secret.hash, limits: limits,
                                  createdAt: Date().timeIntervalSince1970)
        guard try await storage({ try await accounts.addKey(user: userID, record, limit: most) }) else { return nil }
        return NewKeyReply(view: KeyView(record), key: secret.text)
    }
}

struct KeyRequest: Decodable {
    var name: String?
    var limits: RateLimits?
}

/// A key as lists show it: never its secret or hash.
struct KeyView: Encodable {
    var id: String
    var name: String
    var prefix: String
    var limits: RateLimits
    var createdAt: Double

    init(_ record: APIKeyRecord) {
        (id, name, prefix, limits, createdAt) = (record.id, record.name, record.prefix, record.limits, record.createdAt)
    }

    enum CodingKeys: String, CodingKey {
        case id, name, prefix, limits
        case createdAt = "created_at"
    }
}

/// A new key: its view and, this once, the key itself.
struct NewKeyReply: Encodable {
    var view: KeyView
    var key: String

    func encode(to encoder: any Encoder) throws {
        try view.encode(to: encoder)
        var container = encoder.container(keyedBy: CodingKeys.self)
        try container.encode(key, forKey: .key)
    }

    enum CodingKeys: String, CodingKey { case key }
}
