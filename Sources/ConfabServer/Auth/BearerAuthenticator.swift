import ConfabCore
import Crypto
import Foundation
import Hummingbird
import HTTPTypes
import HummingbirdAuth

/// Finds out who is asking: `Authorization: Bearer` with an API key, an access token or the
/// admin token, or for `GET` (EventSource cannot set headers) a single-use `?ticket=`.
/// Credentials that are given but wrong are a 401 in every mode: they never fall back to
/// anonymous. A known user costs one Redis round trip, which also counts the request against
/// the rate limits; the answer carries the `x-ratelimit-*` headers OpenAI clients read.
struct BearerAuthenticator: AuthenticatorMiddleware {
    typealias Context = ConfabRequestContext
    let accounts: any AccountStore
    let tokens: AccessTokens
    let settings: IdentitySettings

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let caller = try await authenticate(request: request, context: context) else { return try await next(request, context) }
        var context = context
        context.identity = caller
        guard case .user(let user) = caller else { return try await next(request, context) }
        // Every answer to a signed-in user says where its meters stand, errors included.
        let meters = [user.requests, user.tokens].compactMap { $0 }.reduce(into: HTTPFields()) { $0.append(contentsOf: $1.headers) }
        do {
            var response = try await next(request, context)
            response.headers.append(contentsOf: meters)
            return response
        } catch var error as APIError {
            for field in meters where error.headers[field.name] == nil { error.headers.append(field) }
            throw error
        }
    }

    func authenticate(request: Request, context: Context) async throws -> Caller? {
        if MaimController.owns(request.uri.path), let key = MaimController.apiKey(request.headers) {
            return try await caller(token: key, path: request.uri.path)
        }
        guard request.headers[.authorization] != nil else {
            // Tickets are for streams only (EventSource); anywhere else the header is the way.
            // (Checked before the query is parsed: an anonymous turn should not pay for it.)
            guard request.method == .get, Self.ticketPaths(request.uri.path), request.uri.query?.containsBytes("ticket=") == true,
                  let ticket = request.uri.queryParameters["ticket"] else { return nil }
            let holder = try await storage { try await accounts.takeTicket(hash: APIKeySecret.sha256(String(ticket))) }
            guard let holder else { throw APIError.unauthorized("the stream ticket is unknown, used or expired") }
            let key = holder.keyID.flatMap { id in holder.keyHash.map { (id: id, hash: $0) } }
            return try await signIn(holder.user, key: key, path: request.uri.path)
        }
        let header = request.headers[values: .authorization]
        guard header.count == 1, let token = Self.bearer(header[0]) else {
            throw APIError.unauthorized("send credentials as 'Authorization: Bearer <API key or access token>'")
        }
        return try await caller(token: token, path: request.uri.path)
    }

    /// Who a bearer token (the admin token, an API key, an access token) names.
    private func caller(token: String, path: String) async throws -> Caller {
        if let admin = settings.adminToken, Self.constantTimeEqual(token, admin) { return .admin }
        if token.hasPrefix("cfk_") {
            guard let key = APIKeySecret(parsing: token) else { throw APIError.unauthorized("the API key is not valid") }
            return try await signIn(key.userID, key: (key.keyID, key.hash), path: path)
        }
        guard let holder = await tokens.userID(from: token) else {
            throw APIError.unauthorized("the access token is not valid (malformed, expired, or not signed by this service)")
        }
        return try await signIn(holder.user, key: nil, path: path, expires: holder.expires)
    }

    /// The routes that begin a turn, at every door: the token limit refuses only these.
    static let turnPaths: Set<String> = ["/chat/stream", "/chat/ws", "/ws", "/api/chat", "/v1/chat/completions", "/v1/responses", "/api/chat/completions"]

    /// Streams a browser opens without headers: EventSource's and the chat WebSocket.
    private static func ticketPaths(_ path: String) -> Bool {
        path.hasSuffix("/stream") || path == "/chat/ws"
    }

    /// A signed-in user's credentials checked again for one more turn on a socket that stays
    /// open: the turn is counted against the limits like a request, and a key revoked since the
    /// socket opened stops working.
    func recheck(_ user: SignedInUser, turnPath path: String) async throws -> SignedInUser {
        if let expires = user.expires, expires < Date().timeIntervalSince1970 {
            throw APIError.unauthorized("the access token this socket was opened with has expired; open a new one")
        }
        guard case .user(let user) = try await signIn(user.account.id, key: user.key.map { ($0.id, $0.hash) }, path: path,
                                                      expires: user.expires) else {
            throw APIError.unauthorized("the credentials are no longer valid")
        }
        return user
    }

    /// One round trip: the account, the key, the meters. A user's own key routes and `/me` are
    /// counted but never refused (a leaked key flooding the meter cannot stop its revocation);
    /// the token limit refuses only new turns.
    private func signIn(_ userID: String, key: (id: String, hash: String)?, path: String, expires: Double? = nil) async throws -> Caller {
        var check = AuthCheck(user: userID, key: key, userLimits: settings.userLimits, now: Date().timeIntervalSince1970)
        check.enforceRequests = !(path == "/api/v1/me" || path == "/api/v1/keys" || path.hasPrefix("/api/v1/keys/"))
        // As the router reads it: `/v1/responses/` and `//v1/responses` are the same route.
        check.enforceTokens = Self.turnPaths.contains("/" + path.split(separator: "/").joined(separator: "/"))
        switch try await storage({ try await accounts.authenticate(check) }) {
        case .unknown:
            throw APIError.unauthorized(key == nil ? "the user of this token no longer exists" : "the API key is not valid or was revoked")
        case .limited(let state):
            throw APIError.rateLimited(state)
        case .allowed(let account, let record, let requests, let tokens):
            var scopes = [RateScope(name: "user", limits: settings.userLimits)]
            if let record, !record.limits.isEmpty { scopes.append(RateScope(name: "key:\(record.id)", limits: record.limits)) }
            return .user(SignedInUser(account: account, key: record, quota: TurnQuota(scopes: scopes), requests: requests, tokens: tokens,
                                      expires: expires))
        }
    }

    /// The token of `Bearer <token>`, when it has only the characters RFC 6750 allows.
    static func bearer(_ value: String) -> String? {
        let parts = value.split(separator: " ", omittingEmptySubsequences: true)
        guard parts.count == 2, parts[0].lowercased() == "bearer", parts[1].utf8.count <= 4096 else { return nil }
        let token = parts[1]
        guard token.utf8.allSatisfy({ Validation.isASCIIAlphanumeric($0) || Array("-._~+/=".utf8).contains($0) }) else { return nil }
        return String(token)
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let (x, y) = (SHA256.hash(data: Array(a.utf8)), SHA256.hash(data: Array(b.utf8)))
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

extension RateLimitState {
    /// `x-ratelimit-limit-requests`, `-remaining-requests`, `-reset-requests` (or `-tokens`).
    var headers: HTTPFields {
        let kind = self.kind == .streams ? "requests" : self.kind.rawValue
        var fields = HTTPFields()
        fields.append(HTTPField(name: HTTPField.Name("x-ratelimit-limit-\(kind)")!, value: String(limit)))
        fields.append(HTTPField(name: HTTPField.Name("x-ratelimit-remaining-\(kind)")!, value: String(remaining)))
        fields.append(HTTPField(name: HTTPField.Name("x-ratelimit-reset-\(kind)")!, value: "\(resetSeconds)s"))
        return fields
    }
}

extension APIError {
    static func unauthorized(_ message: String) -> APIError {
        APIError(.unauthorized, code: "invalid_credentials", message,
                 headers: [.wwwAuthenticate: "Bearer realm=\"confab\", error=\"invalid_token\""])
    }

    /// 401 for a route that needs credentials and got none.
    static var credentialsRequired: APIError {
        APIError(.unauthorized, code: "credentials_required",
                 "this route needs 'Authorization: Bearer <API key or access token>' (register or log in at /api/v1/auth)",
                 headers: [.wwwAuthenticate: "Bearer realm=\"confab\""])
    }

    static func rateLimited(_ state: RateLimitState) -> APIError {
        // Streams at once have no x-ratelimit header of their own; the request meter's stay true.
        var headers = state.kind == .streams ? HTTPFields() : state.headers
        headers[.retryAfter] = String(max(1, state.resetSeconds))
        let what = switch state.kind {
        case .requests: "requests per minute"
        case .tokens: "tokens per minute"
        case .streams: "streams at once"
        }
        return APIError(.tooManyRequests, code: "rate_limit_exceeded", "rate limit reached: at most \(state.limit) \(what)", headers: headers)
    }
}
