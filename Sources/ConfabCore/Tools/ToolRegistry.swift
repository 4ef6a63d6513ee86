/// The tools Confab can run, by name. A persona names the ones its model is offered.
public struct ToolRegistry: Sendable {
    private let tools: [String: any Tool]

    public init(_ tools: [any Tool]) {
        self.tools = Dictionary(tools.map { ($0.spec.name, $0) }, uniquingKeysWith: { first, _ in first })
    }

    public var names: [String] { tools.keys.sorted() }

    /// This registry with one more tool (a test's, or a deployment's own).
    public func adding(_ tool: any Tool) -> ToolRegistry {
        ToolRegistry(Array(tools.values) + [tool])
    }

    /// What the model is offered for `persona`: its tools that exist here, in its order.
    public func specs(for persona: Persona) -> [ToolSpec] {
        persona.tools.compactMap { tools[$0]?.spec }
    }

    /// Runs one call within `deadline`. Never throws: an unknown tool, arguments that are not a
    /// JSON object, a failure or a timeout each becomes a tool error for the model to read.
    public func run(_ call: ToolCall, offered: [ToolSpec], context: ToolContext, deadline: Duration) async -> ToolOutcome {
        guard offered.contains(where: { $0.name == call.name }), let tool = tools[call.name] else {
            return .failure("unknown tool '\(call.name)'; available: \(offered.map(\.name).joined(separator: ", "))")
        }
        let text = call.arguments.isEmpty ? "{}" : call.arguments
        guard let input = try? JSONValue.parse(text), case .object = input else {
            return .failure("the arguments are not a JSON object: \(text.prefix(200))")
        }
        return await withTaskGroup(of: ToolOutcome?.self) { group in
            group.addTask {
                do {
                    return .output(try await tool.call(input, context: context))
                } catch let failure as ToolFailure {
                    return .failure(failure.message)
                } catch is CancellationError {
                    return nil
                } catch {
                    return .failure("\(error)")
                }
            }
            group.addTask {
                try? await Task.sleep(for: deadline)
                return Task.isCancelled ? nil : .failure("the tool did not answer within \(deadline.milliseconds) ms")
            }
            let first = await group.next() ?? nil
            group.cancelAll()
            return first ?? .failure("cancelled")
        }
    }
}

/// What came of a tool call.
public enum ToolOutcome: Sendable, Equatable {
    case output(JSONValue)
    case failure(String)
}

extension ToolRegistry {
    /// The tools every Confab has; `fetch_url` only when some hosts are allowed.
    public static func builtIn(agents: any AgentDirectory, fetcher: URLFetcher?) -> ToolRegistry {
        var tools: [any Tool] = [FindAgentsTool(agents: agents), CurrentTimeTool()]
        if let fetcher { tools.append(FetchURLTool(fetcher: fetcher)) }
        return ToolRegistry(tools)
    }
}
