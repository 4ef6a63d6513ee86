/// A tool the model may call during a turn, run by Confab itself (server-side).
public protocol Tool: Sendable {
    /// Name, description and JSON-schema parameters, as offered to the model.
    var spec: ToolSpec { get }
    /// Runs the call. A thrown error becomes a tool error the model is told about.
    func call(_ input: JSONValue, context: ToolContext) async throws -> JSONValue
}

/// What a tool knows about the turn that calls it.
public struct ToolContext: Sendable {
    /// The user the turn belongs to: a tool reaches only what this user may see.
    public var user: String

    public init(user: String) { self.user = user }
}

/// Why a tool call failed, as the model (and the client) are told.
public struct ToolFailure: Error, Sendable, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
}
