import HummingbirdBcrypt
import NIOPosix
import Synchronization

/// bcrypt on NIO's thread pool, never on an event loop (a hash takes ~100 ms at cost 11).
final class Passwords: Sendable {
    let cost: Int
    /// Checked against when the username is unknown, so that answers as slowly as a wrong
    /// password; made on first need, at the same cost.
    private let decoy = Mutex<String?>(nil)

    init(cost: Int) { self.cost = cost }

    /// Makes the decoy now (at start-up, in the background), so the first unknown username
    /// does not take twice as long as a wrong password.
    func prepareDecoy() async {
        guard decoy.withLock({ $0 }) == nil, let made = try? await hash("a decoy that never matches") else { return }
        decoy.withLock { $0 = $0 ?? made }
    }

    func hash(_ password: String) async throws -> String {
        let cost = UInt8(cost)
        return try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    /// Whether the password matches; with no hash (an unknown user) it checks the decoy and fails.
    func verify(_ password: String, hash: String?) async throws -> Bool {
        let target: String
        if let hash {
            target = hash
        } else if let made = decoy.withLock({ $0 }) {
            target = made
        } else {
            await prepareDecoy()
            target = decoy.withLock { $0 } ?? hash ?? ""
        }
        let matches = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: target) }
        return matches && hash != nil
    }

    /// Why a password is refused, or nil. bcrypt reads at most 72 bytes, so longer ones are
    /// refused rather than silently cut.
    static func weakness(_ password: String) -> String? {
        guard password.count >= 8 else { return "password must be at least 8 characters" }
        guard password.utf8.count <= 72 else { return "password must be at most 72 bytes (bcrypt reads no more)" }
        guard !password.contains("\u{0}") else { return "password must not contain NUL" }
        let kinds = [password.contains(where: \.isLetter), password.contains(where: \.isNumber),
                     password.contains { !$0.isLetter && !$0.isNumber }].filter { $0 }.count
        guard kinds >= 2, Set(password).count >= 4 else {
            return "password is too weak: use at least two of letters, digits and symbols, and several different characters"
        }
        return nil
    }
}
