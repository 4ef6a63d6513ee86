/// A JSON value read in one pass. The upstream sends one small JSON object per token, and
/// Foundation's Codable `JSONDecoder` spent a tenth of Confab's CPU on them
/// (docs/PERFORMANCE.md); request bodies use it too, for its nesting limit.
public enum JSONValue: Sendable, Equatable {
    case object([String: JSONValue])
    case array([JSONValue])
    case string(String)
    case number(Double)
    case bool(Bool)
    case null

    public subscript(key: String) -> JSONValue? {
        if case .object(let members) = self { return members[key] }
        return nil
    }

    public var string: String? {
        if case .string(let value) = self { return value }
        return nil
    }

    public var int: Int? {
        if case .number(let value) = self, let exact = Int(exactly: value) { return exact }
        return nil
    }

    public var array: [JSONValue]? {
        if case .array(let values) = self { return values }
        return nil
    }

    public struct SyntaxError: Error {}

    public var double: Double? {
        if case .number(let value) = self { return value }
        return nil
    }

    /// Parses one JSON text; nesting deeper than 64 levels is refused.
    public static func parse(_ text: String) throws(SyntaxError) -> JSONValue {
        try parse(bytes: Array(text.utf8))
    }

    /// Parses one JSON text given as UTF-8 bytes (a Redis reply, say) without copying it first.
    public static func parse(bytes: [UInt8]) throws(SyntaxError) -> JSONValue {
        var reader = JSONReader(bytes: bytes)
        let value = try reader.value(depth: 0)
        reader.skipSpace()
        guard reader.index == reader.bytes.count else { throw SyntaxError() }
        return value
    }
}
