import Foundation

/// A registered user. The id is made by the server; the username is unique (case-insensitive).
public struct Account: Codable, Sendable, Equatable {
    public var id: String
    public var username: String
    public var email: String?
    public var tenantID: String
    public var role: TenantRole
    public var createdAt: Double

    public init(id: String, username: String, email: String?, tenantID: String, role: TenantRole, createdAt: Double) {
        self.id = id
        self.username = username
        self.email = email
        self.tenantID = tenantID
        self.role = role
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, username, email, role
        case tenantID = "tenant_id"
        case createdAt = "created_at"
    }
}

/// A user's place in a tenant: the owner may add users and read the tenant's figures.
public enum TenantRole: String, Codable, Sendable {
    case owner, member
}

/// A group of users; each registration makes one, its user the owner.
public struct Tenant: Codable, Sendable, Equatable {
    public var id: String
    public var name: String
    public var ownerID: String
    public var createdAt: Double

    public init(id: String, name: String, ownerID: String, createdAt: Double) {
        self.id = id
        self.name = name
        self.ownerID = ownerID
        self.createdAt = createdAt
    }

    enum CodingKeys: String, CodingKey {
        case id, name
        case ownerID = "owner_id"
        case createdAt = "created_at"
    }
}

/// Server-made identifiers: a readable prefix and random lowercase letters and digits, from the
/// system's secure generator. They never contain `:`, so they cannot be mistaken for the
/// `anon:` namespace of anonymous users.
public enum Identifier {
    static let alphabet = Array("abcdefghijklmnopqrstuvwxyz0123456789".utf8)
    static let secretAlphabet = Array("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789".utf8)

    public static func random(_ length: Int, secret: Bool = false) -> String {
        let letters = secret ? secretAlphabet : alphabet
        var generator = SystemRandomNumberGenerator()
        return String(decoding: (0..<length).map { _ in letters[Int.random(in: 0..<letters.count, using: &generator)] }, as: UTF8.self)
    }

    public static func user() -> String { "usr_" + random(16) }
    public static func tenant() -> String { "ten_" + random(16) }
    public static func agent() -> String { "agt_" + random(16) }

    /// `prefix` followed by exactly `length` lowercase letters or digits.
    public static func isValid(_ id: String, prefix: String, length: Int = 16) -> Bool {
        id.hasPrefix(prefix) && id.utf8.count == prefix.utf8.count + length
            && id.utf8.dropFirst(prefix.utf8.count).allSatisfy { alphabet.contains($0) }
    }
}
