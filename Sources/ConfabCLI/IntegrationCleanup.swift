import ConfabClient

/// The last phase of an integration run: delete every user under the prefix (with their tenants,
/// agents, sessions and keys) and verify — a second deletion by prefix must find no one, and no
/// user of the run may still be signed in with their API key.
struct IntegrationCleanup {
    /// Carries the admin token; nil with `--no-cleanup`.
    let admin: ConfabClient?
    let prefix: String
    let output: Output

    var command: String { "confab cleanup --prefix \(prefix)" }

    /// Never throws: a failed clean-up is an unverified one, with its error.
    func run(users: [IntegrationSetup.User]) async -> (IntegrationReport.CleanupResults, RunError?) {
        guard let admin else {
            output.log("integration: --no-cleanup: the users stay; remove them with: \(command)")
            return (.init(performed: false, verified: false, command: command), nil)
        }
        let started = ContinuousClock.now
        do {
            let purge = try await UserPurge(client: admin, output: output).run(prefix: prefix)
            // Checked from the users' side too: each key must now be refused (401).
            let signedIn = await boundedMap(users, limit: 16) { user in
                do {
                    _ = try await user.client.me()
                    return true
                } catch {
                    return (error as? ConfabClientError)?.status != 401
                }
            }.filter { $0 }.count
            let verified = purge.remaining == 0 && signedIn == 0
            let results = IntegrationReport.CleanupResults(
                performed: true, deleted: purge.counts, remainingUsers: purge.remaining, usersStillSignedIn: signedIn,
                verified: verified, seconds: (ContinuousClock.now - started).seconds, command: command)
            let error = verified ? nil : RunError(.cleanup, message: "after the clean-up \(purge.remaining) user(s) remained under "
                                                  + "'\(prefix)' and \(signedIn) user(s) could still sign in")
            return (results, error)
        } catch {
            return (.init(performed: true, verified: false, seconds: (ContinuousClock.now - started).seconds, command: command),
                    RunError(.cleanup, message: "the clean-up failed: \(error); retry with: \(command)"))
        }
    }
}
