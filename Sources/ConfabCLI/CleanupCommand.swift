import ArgumentParser
import ConfabClient
import Foundation

/// `confab cleanup`: leaves a clean slate for tests. It lists what exists, deletes it, then
/// lists again and fails (status 7) unless nothing is left; each step is logged on stderr.
struct CleanupCommand: ClientCommand {
    static let configuration = CommandConfiguration(
        commandName: "cleanup",
        abstract: "Delete all your sessions (or, with --prefix, every user whose name starts so) and verify.",
        discussion: """
            Without --prefix: lists your sessions, deletes them all, and lists again; exits 7 if any \
            is left. With --prefix and the admin token (--admin-token or CONFAB_ADMIN_TOKEN): deletes \
            every user whose username starts with the prefix, with all their sessions, agents and keys, \
            then deletes again to verify that no such user is left. Tests set \
            CONFAB_CLEANUP_BEFORE_TEST=true to run this first.

            \(ExitStatus.help)
            """)

    @OptionGroup var connection: ConnectionOptions

    @Option(help: "Delete every user whose username starts with this (2 to 64 letters, digits, _ . -).")
    var prefix: String?

    @Option(help: "The server's admin token, for --prefix (else CONFAB_ADMIN_TOKEN).")
    var adminToken: String?

    func run(client: ConfabClient, output: Output) async throws {
        let report: CleanupReport
        if let prefix {
            let token = try UserPurge.adminToken(adminToken, for: "--prefix")
            let purge = try await UserPurge(client: client.authenticated(with: token), output: output).run(prefix: prefix)
            report = CleanupReport(scope: "users", found: purge.counts.users, deleted: purge.counts.users, remaining: purge.remaining,
                                   usernames: purge.usernames)
        } else {
            report = try await removeSessions(client: client, output: output)
        }
        try output.result(report) { _ in "" }
        guard report.verified else {
            throw VerificationFailure(description: "cleanup left \(report.remaining) behind")
        }
        output.log("cleanup: verified, nothing left")
    }

    /// The caller's sessions: list, delete all at once, list again.
    private func removeSessions(client: ConfabClient, output: Output) async throws -> CleanupReport {
        output.log("cleanup: listing the sessions at \(client.baseURL)")
        let before = try await client.sessions()
        output.log("cleanup: found \(before.count) session(s)")
        let deleted = before.isEmpty ? 0 : try await client.deleteAllSessions()
        output.log("cleanup: deleted \(deleted) session(s)")
        let after = try await client.sessions()
        output.log("cleanup: \(after.count) session(s) left")
        return CleanupReport(scope: "sessions", found: before.count, deleted: deleted, remaining: after.count)
    }
}

/// What `cleanup --json` prints.
struct CleanupReport: Encodable {
    /// `sessions` (the caller's) or `users` (by prefix).
    var scope: String
    var found: Int
    var deleted: Int
    var remaining: Int
    var usernames: [String]?
    /// Nothing remains.
    var verified: Bool

    init(scope: String, found: Int, deleted: Int, remaining: Int, usernames: [String]? = nil) {
        (self.scope, self.found, self.deleted, self.remaining, self.usernames) = (scope, found, deleted, remaining, usernames)
        verified = remaining == 0
    }
}
