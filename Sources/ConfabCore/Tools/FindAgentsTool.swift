/// `find_agents`: searches the agents a user can talk to by free text, best match first.
struct FindAgentsTool: Tool {
    let agents: any AgentDirectory
    static let limit = 5

    let spec = ToolSpec(
        name: "find_agents",
        description: "Search the user's own agents and the template library by free text; returns the best matches with id, name and description.",
        parameters: .object(["type": .string("object"), "required": .array([.string("query")]), "properties": .object([
            "query": .object(["type": .string("string"), "description": .string("what the agent should be able to do")]),
        ])]))

    func call(_ input: JSONValue, context: ToolContext) async throws -> JSONValue {
        guard let query = input["query"]?.string, !query.trimmingCharacters(in: .whitespaces).isEmpty else {
            throw ToolFailure("'query' must be a non-empty string")
        }
        let ranked = AgentRanking(query: query).rank(try await agents.agents(visibleTo: context.user))
        return .object([
            "query": .string(query),
            "agents": .array(ranked.prefix(Self.limit).map { match in
                .object(["id": .string(match.agent.id), "name": .string(match.agent.name),
                         "description": .string(match.agent.description), "score": .number(match.score)])
            }),
        ])
    }
}

/// Scores agents against a query: each query word found in the name counts 3, in the
/// description 2, in the details 1. A word matches a word that starts with it or is one typo
/// away (so "moneny" still finds "money"); short words must match exactly.
struct AgentRanking {
    let terms: [String]

    init(query: String) { terms = Self.words(query) }

    func rank(_ agents: [AgentSummary]) -> [(agent: AgentSummary, score: Double)] {
        agents.map { agent in
            let (name, description, details) = (Self.words(agent.name), Self.words(agent.description), Self.words(agent.details))
            let score = terms.reduce(0.0) { total, term in
                total + (Self.matches(term, name) ? 3 : Self.matches(term, description) ? 2 : Self.matches(term, details) ? 1 : 0)
            }
            return (agent, score)
        }
        .filter { $0.score > 0 }
        .sorted { $0.score != $1.score ? $0.score > $1.score : $0.agent.id < $1.agent.id }
    }

    static func words(_ text: String) -> [String] {
        text.lowercased().split { !$0.isLetter && !$0.isNumber }.map(String.init)
    }

    static func matches(_ term: String, _ words: [String]) -> Bool {
        words.contains { word in
            word == term || (term.count >= 4 && word.hasPrefix(term)) || (term.count >= 5 && oneEditApart(term, word))
        }
    }

    /// True when one insertion, deletion or substitution turns `a` into `b`.
    static func oneEditApart(_ a: String, _ b: String) -> Bool {
        let (a, b) = (Array(a), Array(b))
        guard abs(a.count - b.count) <= 1 else { return false }
        var (i, j, edits) = (0, 0, 0)
        while i < a.count && j < b.count {
            if a[i] == b[j] { i += 1; j += 1; continue }
            edits += 1
            if edits > 1 { return false }
            if a.count > b.count { i += 1 } else if a.count < b.count { j += 1 } else { i += 1; j += 1 }
        }
        return edits + (a.count - i) + (b.count - j) <= 1
    }
}
