import ConfabCore
import Foundation
import Hummingbird

/// Checks every piece of user input before it reaches the store. User ids are limited to a
/// safe set so they cannot break out of a Redis key or its hash tag. A class, so controllers
/// (copied into every request's async frames) hold a pointer instead of all the settings.
final class Validation: Sendable {
    let settings: Settings
    let personas: PersonaCatalog
    private let userIDPattern: NSRegularExpression?

    init(settings: Settings, personas: PersonaCatalog) {
        self.settings = settings
        self.personas = personas
        userIDPattern = settings.userIDPattern.isEmpty ? nil : try? NSRegularExpression(pattern: settings.userIDPattern)
    }

    static let userIDCharacters = Set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.@")

    func userID(_ raw: String?) throws -> String {
        guard let raw else { throw APIError.missing("user_id") }
        guard !raw.isEmpty else { throw APIError(.badRequest, code: "invalid_user_id", "user_id must not be empty") }
        guard raw.count <= settings.maxUserIDLength else {
            throw APIError(.badRequest, code: "invalid_user_id", "user_id must be at most \(settings.maxUserIDLength) characters")
        }
        guard raw.allSatisfy(Self.userIDCharacters.contains) else {
            throw APIError(.badRequest, code: "invalid_user_id", "user_id may contain only letters, digits and _ - . @")
        }
        if let pattern = userIDPattern, pattern.firstMatch(in: raw, range: NSRange(raw.startIndex..., in: raw)) == nil {
            throw APIError(.badRequest, code: "invalid_user_id", "user_id must match \(settings.userIDPattern)")
        }
        return raw
    }

    /// A UUID (made by `POST /chat/start`, or by a client for `PUT /chat/sessions/{id}`), or the
    /// 16 to 64 letters and digits an AI SDK client makes up for a chat id.
    func sessionID(_ raw: String?, field: String = "session_id") throws -> String {
        guard let raw else { throw APIError.missing(field) }
        if raw.count == 36, let uuid = UUID(uuidString: raw) { return uuid.uuidString.lowercased() }
        guard (16...64).contains(raw.utf8.count), raw.utf8.allSatisfy(Self.isASCIIAlphanumeric) else {
            throw APIError(.badRequest, code: "invalid_session_id", "\(field) must be a UUID or 16 to 64 letters and digits")
        }
        return raw
    }

    static func isASCIIAlphanumeric(_ byte: UInt8) -> Bool {
        (0x30...0x39).contains(byte) || (0x41...0x5A).contains(byte) || (0x61...0x7A).contains(byte)
    }

    /// A JSON body decoded into `T`, within the same limits as every body (size, UTF-8, nesting);
    /// a field of the wrong type or a missing one is a 400 that names it.
    func decode<T: Decodable>(_ type: T.Type, from request: inout Request, maxBytes: Int? = nil) async throws -> T {
        let buffer = try await request.collectBody(upTo: maxBytes ?? settings.maxBodyBytes)
        guard buffer.readableBytes > 0 else { throw APIError(.badRequest, code: "invalid_json", "a JSON body is required") }
        guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else {
            throw APIError(.badRequest, code: "invalid_utf8", "the request body is not valid UTF-8")
        }
        return try decode(type, from: text)
    }

    /// A JSON object (a body, a WebSocket message) decoded, every failure a 400 naming the field.
    func decode<T: Decodable>(_ type: T.Type, from text: String) throws -> T {
        guard let json = try? JSONValue.parse(text) else {
            throw APIError(.badRequest, code: "invalid_json", "the body is not valid JSON (or nests deeper than 64 levels)")
        }
        guard case .object = json else { throw APIError(.badRequest, code: "invalid_json", "the body must be a JSON object") }
        do {
            return try JSONDecoder().decode(T.self, from: Data(text.utf8))
        } catch let DecodingError.keyNotFound(key, context) {
            throw APIError(.badRequest, code: "missing_field", "\(Self.path(context.codingPath + [key])) is required")
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            throw APIError(.badRequest, code: "invalid_field", "\(Self.path(context.codingPath)) has the wrong type")
        } catch {
            throw APIError(.badRequest, code: "invalid_json", "the body could not be read")
        }
    }

    private static func path(_ keys: [any CodingKey]) -> String {
        keys.map { $0.intValue.map { "[\($0)]" } ?? ".\($0.stringValue)" }.joined().trimmingCharacters(in: CharacterSet(charactersIn: "."))
    }

    func message(_ raw: String?) throws -> String {
        guard let raw else { throw APIError.missing("message") }
        guard !raw.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else {
            throw APIError(.badRequest, code: "empty_message", "message must not be empty")
        }
        guard raw.count <= settings.maxMessageChars else {
            throw APIError(.badRequest, code: "message_too_long", "message must be at most \(settings.maxMessageChars) characters")
        }
        return raw
    }

    func persona(_ raw: String?) throws -> Persona {
        guard let persona = personas.persona(raw) else {
            throw APIError(.badRequest, code: "unknown_persona",
                           "unknown role '\(raw ?? "")'; known: \(personas.personas.map(\.id).joined(separator: ", "))")
        }
        return persona
    }

    /// A field that may come in the body or the query: each given one must be valid, and two
    /// must agree.
    func oneOf<T: Equatable>(body: String?, query: String?, _ check: (String?) throws -> T) throws -> T {
        guard let body, let query else { return try check(body ?? query) }
        let (fromBody, fromQuery) = (try check(body), try check(query))
        guard fromBody == fromQuery else {
            throw APIError(.badRequest, code: "conflicting_fields", "the body and the query give different values for the same field")
        }
        return fromBody
    }

    /// Runs a store call on the session named in the path (`{session_id}`) for the request's
    /// owner (see `owner`); the call returns false for a session the user does not have, which answers 404.
    func onPathSession(_ request: Request, _ context: ConfabRequestContext, done message: String,
                       _ call: (_ user: String, _ session: String) async throws -> Bool) async throws -> Response {
        let owner = try owner(context, given: request.query("user_id"))
        let session = try sessionID(context.parameters.get("session_id"))
        guard try await storage({ try await call(owner.storeID, session) }) else { throw APIError.sessionNotFound }
        return try JSONBody.response(["session_id": session, "message": message])
    }

    /// The `names` fields of a JSON object body, each a string or null (else a 400); other
    /// fields are ignored, so clients may send more than this version reads.
    func jsonFields(_ request: inout Request, _ names: Set<String>) async throws -> [String: String] {
        let buffer = try await request.collectBody(upTo: settings.maxBodyBytes)
        guard buffer.readableBytes > 0 else { return [:] }
        guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else {
            throw APIError(.badRequest, code: "invalid_utf8", "the request body is not valid UTF-8")
        }
        return try jsonFields(text, names)
    }

    /// The string members of a JSON object (a body, a WebSocket message) that are named; any
    /// other member is ignored, a named one that is not a string is a 400.
    func jsonFields(_ text: String, _ names: Set<String>) throws -> [String: String] {
        // The one-pass reader refuses nesting deeper than 64 levels, so a hostile body cannot
        // exhaust the stack.
        guard let json = try? JSONValue.parse(text) else {
            throw APIError(.badRequest, code: "invalid_json", "the body is not valid JSON (or nests deeper than 64 levels)")
        }
        guard case .object(let members) = json else {
            throw APIError(.badRequest, code: "invalid_json", "the body must be a JSON object")
        }
        var fields: [String: String] = [:]
        for (key, value) in members where names.contains(key) && value != .null {
            guard let string = value.string else {
                throw APIError(.badRequest, code: "invalid_field", "\(key) must be a string")
            }
            fields[key] = string
        }
        return fields
    }
}

extension Request {
    /// A query parameter; present but empty counts as given (so it can be refused as empty).
    func query(_ name: String) -> String? {
        uri.queryParameters[name[...]].map(String.init)
    }

    /// A query parameter read as an HTML form encodes it, `+` for a space (Python's `requests`
    /// sends `?text=Compat+Test`); `query` keeps a `+` as it is.
    func formQuery(_ name: String) -> String? {
        func decoded(_ part: Substring) -> String? { part.replacingOccurrences(of: "+", with: " ").removingPercentEncoding }
        for pair in (uri.query ?? "").split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            guard decoded(parts[0]) == name else { continue }
            return parts.count > 1 ? decoded(parts[1]) : ""
        }
        return nil
    }
}
