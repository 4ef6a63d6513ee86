import ConfabCore
import Foundation
import JWTKit
import Logging

/// Signs and checks the short-lived access tokens (JWT, HS256) that `login` and `register` give.
/// A token names its user; every request with one still checks in Redis that the user exists.
struct AccessTokens: Sendable {
    private let keys: JWTKeyCollection
    let lifetimeSeconds: Int
    static let issuer = "confab"

    /// Without a configured secret a random one is made, and a warning says what that means.
    static func make(settings: IdentitySettings, logger: Logger) async -> AccessTokens {
        let secret = settings.jwtSecret ?? {
            logger.warning("CONFAB_JWT_SECRET is not set: access tokens are signed with a random secret made at start-up; they stop working when this process stops and are not accepted by other instances")
            return Identifier.random(64, secret: true)
        }()
        let keys = JWTKeyCollection()
        await keys.add(hmac: HMACKey(from: secret), digestAlgorithm: .sha256)
        return AccessTokens(keys: keys, lifetimeSeconds: settings.accessTokenSeconds)
    }

    func issue(for account: Account) async throws -> String {
        let now = Date()
        return try await keys.sign(AccessTokenClaims(sub: .init(value: account.id), iss: .init(value: Self.issuer),
                                                     iat: .init(value: now), exp: .init(value: now.addingTimeInterval(Double(lifetimeSeconds)))))
    }

    /// The user id a valid token names; nil for a token that is malformed, signed with another
    /// secret or algorithm (`none` included), expired, or not ours.
    func userID(from token: String) async -> (user: String, expires: Double)? {
        guard Self.algorithm(of: token) == "HS256" else { return nil }
        guard let claims = try? await keys.verify(token, as: AccessTokenClaims.self) else { return nil }
        guard Identifier.isValid(claims.sub.value, prefix: "usr_") else { return nil }
        return (claims.sub.value, claims.exp.value.timeIntervalSince1970)
    }

    /// The `alg` of the token's header: checked before the signature, so a token can never
    /// choose how it is verified.
    static func algorithm(of token: String) -> String? {
        let parts = token.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 3, let header = Data(base64URL: String(parts[0])),
              let json = try? JSONSerialization.jsonObject(with: header) as? [String: Any] else { return nil }
        return json["alg"] as? String
    }
}

struct AccessTokenClaims: JWTPayload {
    var sub: SubjectClaim
    var iss: IssuerClaim
    var iat: IssuedAtClaim
    var exp: ExpirationClaim

    func verify(using algorithm: some JWTAlgorithm) async throws {
        try exp.verifyNotExpired()
        guard iss.value == AccessTokens.issuer else { throw JWTError.claimVerificationFailure(failedClaim: iss, reason: "not ours") }
    }
}

extension Data {
    init?(base64URL text: String) {
        var base64 = text.replacingOccurrences(of: "-", with: "+").replacingOccurrences(of: "_", with: "/")
        base64 += String(repeating: "=", count: (4 - base64.count % 4) % 4)
        self.init(base64Encoded: base64)
    }
}
