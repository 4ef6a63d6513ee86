import ConfabCore
import Foundation

extension Validation {
    /// 3 to 64 letters, digits and `_ . -`, starting with a letter or digit; unique in any case.
    func username(_ raw: String?) throws -> String {
        guard let raw else { throw APIError.missing("username") }
        guard (3...64).contains(raw.utf8.count), let first = raw.utf8.first, Self.isASCIIAlphanumeric(first),
              raw.utf8.allSatisfy({ Self.isASCIIAlphanumeric($0) || "_.-".utf8.contains($0) }) else {
            throw APIError(.badRequest, code: "invalid_username",
                           "username must be 3 to 64 letters, digits, _ . or -, starting with a letter or digit")
        }
        return raw
    }

    func password(_ raw: String?) throws -> String {
        guard let raw else { throw APIError.missing("password") }
        if let weakness = Passwords.weakness(raw) { throw APIError(.badRequest, code: "invalid_password", weakness) }
        return raw
    }

    /// A plain address: one `@`, a dotted domain, no spaces or control characters, at most 254 bytes.
    func email(_ raw: String?) throws -> String? {
        guard let raw, !raw.isEmpty else { return nil }
        let parts = raw.split(separator: "@", omittingEmptySubsequences: false)
        let allowed = { (c: Character) in c.isASCII && !c.isWhitespace && c.asciiValue.map { $0 > 32 && $0 < 127 } == true }
        guard raw.utf8.count <= 254, parts.count == 2, !parts[0].isEmpty, parts[1].contains("."),
              !parts[1].hasPrefix("."), !parts[1].hasSuffix("."), !parts[1].contains(".."),
              raw.allSatisfy(allowed), !raw.contains(where: { "<>()[],;:\\\"".contains($0) }) else {
            throw APIError(.badRequest, code: "invalid_email", "email must be an address like name@example.com")
        }
        return raw
    }

    /// A display name (an agent's, a tenant's, a key's): 1 to `limit` characters, no control characters.
    func displayName(_ raw: String?, field: String, limit: Int = 100) throws -> String {
        guard let raw else { throw APIError.missing(field) }
        let trimmed = raw.trimmingCharacters(in: .whitespaces)
        guard !trimmed.isEmpty, trimmed.count <= limit, !trimmed.unicodeScalars.contains(where: { $0.properties.generalCategory == .control }) else {
            throw APIError(.badRequest, code: "invalid_\(field)", "\(field) must be 1 to \(limit) characters without control characters")
        }
        return trimmed
    }

    /// Limits given with a key: each a whole number from 1 (absent: none of that kind).
    func limits(_ raw: RateLimits?) throws -> RateLimits {
        guard let raw else { return RateLimits() }
        for value in [raw.requestsPerMinute, raw.tokensPerMinute, raw.concurrentStreams].compactMap({ $0 }) where !(1...100_000_000).contains(value) {
            throw APIError(.badRequest, code: "invalid_limits", "each limit must be a whole number from 1 to 100000000")
        }
        return raw
    }
}
