import Foundation

/// Member by member reading, for a hot path that needs a few fields of a larger object (a
/// model's chunk per token): the fields wanted are read, the rest checked and skipped without
/// building strings or dictionaries.
extension JSONReader {
    /// Calls `visit` for each member of the object at the reader, with the key's UTF-8 bytes;
    /// `visit` must read the value (`value`, `skipValue`, or `members` / `elements` again).
    mutating func members(depth: Int, _ visit: (inout JSONReader, ArraySlice<UInt8>) throws -> Void)
        throws {
        guard depth < 64 else { throw JSONValue.SyntaxError() }
        skipSpace()
        guard try take(UInt8(ascii: "{")) else { throw JSONValue.SyntaxError() }
        skipSpace()
        if try take(UInt8(ascii: "}")) { return }
        repeat {
            skipSpace()
            let key = try memberKey()
            skipSpace()
            guard try take(UInt8(ascii: ":")) else { throw JSONValue.SyntaxError() }
            try visit(&self, key)
            skipSpace()
        } while try take(UInt8(ascii: ","))
        guard try take(UInt8(ascii: "}")) else { throw JSONValue.SyntaxError() }
    }

    /// Calls `visit` for each element of the array at the reader, with its position.
    mutating func elements(depth: Int, _ visit: (inout JSONReader, Int) throws -> Void)
        throws {
        guard depth < 64 else { throw JSONValue.SyntaxError() }
        skipSpace()
        guard try take(UInt8(ascii: "[")) else { throw JSONValue.SyntaxError() }
        skipSpace()
        if try take(UInt8(ascii: "]")) { return }
        var position = 0
        repeat {
            try visit(&self, position)
            position += 1
            skipSpace()
        } while try take(UInt8(ascii: ","))
        guard try take(UInt8(ascii: "]")) else { throw JSONValue.SyntaxError() }
    }

    /// The kind of value next: `{`, `[`, `"`, or another byte.
    mutating func peek() -> UInt8? {
        skipSpace()
        return index < bytes.count ? bytes[index] : nil
    }

    /// A string, or nil for `null` or any other value (skipped).
    mutating func optionalString(depth: Int) throws -> String? {
        if peek() == UInt8(ascii: "\"") { return try string() }
        try skipValue(depth: depth)
        return nil
    }

    /// Checks the value at the reader and steps over it.
    mutating func skipValue(depth: Int) throws {
        guard depth < 64, let next = peek() else { throw JSONValue.SyntaxError() }
        switch next {
        case UInt8(ascii: "{"): try members(depth: depth) { reader, _ in try reader.skipValue(depth: depth + 1) }
        case UInt8(ascii: "["): try elements(depth: depth) { reader, _ in try reader.skipValue(depth: depth + 1) }
        case UInt8(ascii: "\""): try skipString()
        case UInt8(ascii: "t"): try literal("true")
        case UInt8(ascii: "f"): try literal("false")
        case UInt8(ascii: "n"): try literal("null")
        default: _ = try number()
        }
    }

    /// A key's bytes as written; one with escapes (rare) is decoded first.
    private mutating func memberKey() throws(JSONValue.SyntaxError) -> ArraySlice<UInt8> {
        guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { throw .init() }
        let start = index + 1
        try skipString()
        let raw = bytes[start..<(index - 1)]
        guard raw.contains(UInt8(ascii: "\\")) else { return raw }
        index = start - 1
        return ArraySlice(try string().utf8)
    }

    /// Steps over a string, checking its escapes, without building it.
    private mutating func skipString() throws(JSONValue.SyntaxError) {
        index += 1
        while index < bytes.count {
            let byte = bytes[index]
            index += 1
            switch byte {
            case UInt8(ascii: "\""): return
            case UInt8(ascii: "\\"):
                guard index < bytes.count else { throw .init() }
                let escaped = bytes[index]
                index += 1
                switch escaped {
                case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"),
                     UInt8(ascii: "n"), UInt8(ascii: "r"), UInt8(ascii: "t"): continue
                case UInt8(ascii: "u"): _ = try hex4()
                default: throw .init()
                }
            case 0..<0x20: throw .init()
            default: continue
            }
        }
        throw .init()
    }
}

extension ArraySlice<UInt8> {
    /// Whether these bytes spell `name` (a key compared without making a String).
    func spells(_ name: StaticString) -> Bool {
        count == name.utf8CodeUnitCount && (isEmpty || withUnsafeBufferPointer { memcmp($0.baseAddress!, name.utf8Start, count) == 0 })
    }
}
