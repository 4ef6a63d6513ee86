import ConfabCore
import Hummingbird

extension Validation {
    /// Whose data a request works on. With credentials, the signed-in user (a `user_id` that is
    /// also given must be theirs: their id or username). Without, in open mode, the anonymous
    /// `user_id`; in required mode a 401.
    func owner(_ context: ConfabRequestContext, given: String?) throws -> Owner {
        switch context.identity {
        case .user(let user):
            if let given, given != user.account.id, given.lowercased() != user.account.username.lowercased() {
                throw APIError(.forbidden, code: "user_mismatch", "user_id names another user than the credentials do; leave it out")
            }
            return .user(user)
        case .admin:
            throw APIError.adminIsNotAUser
        case nil:
            guard settings.identity.mode == .open else { throw APIError.credentialsRequired }
            return .anonymous(try userID(given))
        }
    }

    /// Lets a caller in who may chat: a user, or anyone in open mode (who names themselves in each
    /// turn); a 401 without credentials in required mode, a 403 for the admin token.
    func chatCaller(_ context: ConfabRequestContext) throws {
        if context.identity == nil, settings.identity.mode == .open { return }
        _ = try signedIn(context)
    }

    /// The signed-in user; a 401 without credentials (in every mode), a 403 for the admin token.
    func signedIn(_ context: ConfabRequestContext) throws -> SignedInUser {
        switch context.identity {
        case .user(let user): return user
        case .admin: throw APIError.adminIsNotAUser
        case nil: throw APIError.credentialsRequired
        }
    }

    /// An agent id's shape (`agt_` and 16 letters or digits); whose it is, the store checks.
    func agentID(_ raw: String?, field: String = "agent_id") throws -> String {
        guard let raw else { throw APIError.missing(field) }
        guard Identifier.isValid(raw, prefix: Agent.idPrefix) else {
            throw APIError(.badRequest, code: "invalid_agent_id", "\(field) must look like agt_ followed by 16 letters or digits")
        }
        return raw
    }

    /// The persona a chat asks for: an agent (`agent_id`, only for a signed-in user's own) or a
    /// persona (`role`); nil for neither (the session's own). Both at once is a 400.
    func chatPersona(role: String?, agentID agent: String?, owner: Owner) throws -> String? {
        let role = role.flatMap { $0.isEmpty ? nil : $0 }
        let agent = agent.flatMap { $0.isEmpty ? nil : $0 }
        if role != nil, agent != nil {
            throw APIError(.badRequest, code: "conflicting_fields", "give role or agent_id, not both")
        }
        if let agent {
            let id = try agentID(agent)
            // An anonymous caller has no agents: the same answer as another user's agent.
            guard owner.isRegistered else { throw APIError.agentNotFound }
            return id
        }
        return try role.map { try persona($0).id }
    }
}

extension APIError {
    static let adminIsNotAUser = APIError(.forbidden, code: "admin_token_not_a_user",
                                          "the admin token is for /api/v1/admin routes only; use a user's API key or access token")
    static let agentNotFound = APIError(.notFound, code: "agent_not_found", "no such agent for this user")
}
