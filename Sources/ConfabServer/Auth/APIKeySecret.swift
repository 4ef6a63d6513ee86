import ConfabCore
import Crypto
import Foundation

/// The API key format: `cfk_<10 key id letters>_<16 user id letters>_<32 secret letters>`.
/// The key names its user, so checking it is one look-up in that user's hash slot; only its
/// SHA-256 is stored. The first part (`cfk_<key id>`) is shown in lists to recognise it by.
struct APIKeySecret: Sendable, Equatable {
    let keyID: String
    let userID: String
    let text: String

    static func make(for userID: String) -> APIKeySecret {
        let key = Identifier.random(10)
        let text = "cfk_\(key)_\(userID.dropFirst(4))_\(Identifier.random(32, secret: true))"
        return APIKeySecret(keyID: "key_" + key, userID: userID, text: text)
    }

    /// A key as presented; nil when it does not have the format.
    init?(parsing text: String) {
        let parts = text.split(separator: "_", omittingEmptySubsequences: false)
        guard parts.count == 4, parts[0] == "cfk", parts[3].utf8.count == 32,
              parts[3].utf8.allSatisfy(Validation.isASCIIAlphanumeric) else { return nil }
        let (key, user) = ("key_" + parts[1], "usr_" + parts[2])
        guard Identifier.isValid(key, prefix: "key_", length: 10), Identifier.isValid(user, prefix: "usr_") else { return nil }
        self.init(keyID: key, userID: user, text: text)
    }

    private init(keyID: String, userID: String, text: String) {
        self.keyID = keyID
        self.userID = userID
        self.text = text
    }

    var prefix: String { "cfk_" + keyID.dropFirst(4) }
    var hash: String { Self.sha256(text) }

    static func sha256(_ text: String) -> String {
        SHA256.hash(data: Array(text.utf8)).map { String(format: "%02x", $0) }.joined()
    }
}
