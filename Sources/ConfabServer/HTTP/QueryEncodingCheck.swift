import Hummingbird

/// Refuses a query string whose percent-escapes do not decode to UTF-8 (`%FF`), or are not
/// escapes at all (`%zz`), which would otherwise reach a handler as replacement characters or
/// undecoded text.
struct QueryEncodingCheck<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if let query = request.uri.query, !Self.decodesToUTF8(query) {
            throw APIError(.badRequest, code: "invalid_utf8", "the query string is not valid UTF-8 once decoded")
        }
        return try await next(request, context)
    }

    /// What Foundation's `removingPercentEncoding` accepts, checked on the bytes: every turn's
    /// message is in the query, and Foundation's string search and replace cost ~65,000
    /// instructions a turn (docs/PERFORMANCE.md).
    static func decodesToUTF8(_ query: String) -> Bool {
        var query = query
        return query.withUTF8 { encoded in
            guard encoded.contains(UInt8(ascii: "%")) else { return true }  // the bytes of a String are UTF-8
            var decoded: [UInt8] = []
            decoded.reserveCapacity(encoded.count)
            var index = 0
            while index < encoded.count {
                let byte = encoded[index]
                index += 1
                guard byte == UInt8(ascii: "%") else {
                    decoded.append(byte)
                    continue
                }
                guard index + 1 < encoded.count, let high = hexValue(encoded[index]), let low = hexValue(encoded[index + 1]) else {
                    return false
                }
                index += 2
                decoded.append(high << 4 | low)
            }
            return String(validating: decoded, as: UTF8.self) != nil
        }
    }

    private static func hexValue(_ byte: UInt8) -> UInt8? {
        switch byte {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): byte - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): byte - UInt8(ascii: "a") + 10
        case UInt8(ascii: "A")...UInt8(ascii: "F"): byte - UInt8(ascii: "A") + 10
        default: nil
        }
    }
}
