import Foundation

/// `current_time`: the date and time now, in UTC or a named time zone.
struct CurrentTimeTool: Tool {
    let spec = ToolSpec(
        name: "current_time",
        description: "The current date and time. Optionally in an IANA time zone such as Europe/Paris.",
        parameters: .object(["type": .string("object"), "properties": .object([
            "timezone": .object(["type": .string("string"), "description": .string("IANA time zone name; UTC when left out")]),
        ])]))

    func call(_ input: JSONValue, context: ToolContext) async throws -> JSONValue {
        let name = input["timezone"]?.string ?? "UTC"
        guard let zone = TimeZone(identifier: name) else { throw ToolFailure("unknown time zone '\(name)'") }
        let now = Date()
        let format = ISO8601DateFormatter()
        format.timeZone = zone
        return .object(["iso8601": .string(format.string(from: now)), "timezone": .string(zone.identifier),
                        "unix": .number(now.timeIntervalSince1970.rounded())])
    }
}
