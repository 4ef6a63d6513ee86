import ArgumentParser
import ConfabClient
import Foundation

/// Deleting every user whose username starts with a prefix, with the admin token, then deleting
/// again as the check: the API lists no users, so the first answer says who existed and the
/// second, which must find no one, is the verification. `cleanup --prefix` and `integration`
/// both clean up this way.
struct UserPurge {
    /// A client carrying the admin token.
    let client: ConfabClient
    let output: Output

    /// What the two passes found.
    struct Result: Sendable {
        /// What the first pass removed: users, tenants, agents, keys, sessions, messages, Redis keys.
        var counts: AdminDeletion.Counts
        /// The users it removed, by username.
        var usernames: [String]
        /// Users the second pass still found (and removed): 0 when the first was whole.
        var remaining: Int
    }

    /// The admin token from `flag`, else `CONFAB_ADMIN_TOKEN` (preferred: a flag shows in `ps`).
    static func adminToken(_ flag: String?, for option: String) throws -> String {
        guard let token = flag ?? ProcessInfo.processInfo.environment["CONFAB_ADMIN_TOKEN"], !token.isEmpty else {
            throw ValidationError("\(option) needs the admin token: CONFAB_ADMIN_TOKEN (or --admin-token)")
        }
        return token
    }

    /// Deletes, logs what went, and deletes again.
    func run(prefix: String) async throws -> Result {
        output.log("cleanup: deleting the users whose username starts with '\(prefix)' at \(client.baseURL)")
        let first = try await client.deleteUsers(prefix: prefix)
        let names = first.usernames ?? []
        output.log("cleanup: found and deleted \(first.deleted.users) user(s)\(names.isEmpty ? "" : ": " + names.joined(separator: ", "))"
                   + " with \(first.deleted.sessions) session(s), \(first.deleted.agents) agent(s), \(first.deleted.keys) key(s)")
        let second = try await client.deleteUsers(prefix: prefix)
        output.log("cleanup: \(second.deleted.users) user(s) left")
        return Result(counts: first.deleted, usernames: names, remaining: second.deleted.users)
    }
}
