/// OpenAI-style ids for Confab's own: a conversation is a session (`conv_<session>`), a stored
/// response is a reply in it (`resp_<message><session>`), an item is a message (`msg_<message>`).
/// The ids carry what they name, so nothing maps them in Redis, and a look-up is always scoped
/// to the caller's own sessions: another user's id names nothing of theirs (404).
enum OpenAIIDs {
    static func conversation(_ session: String) -> String { "conv_" + compact(session) }

    static func session(conversation id: String) -> String? {
        guard id.hasPrefix("conv_") else { return nil }
        return expand(id.dropFirst(5))
    }

    /// A response kept in `session`, or (nil) one kept nowhere.
    static func response(session: String?, message: String) -> String { "resp_" + compact(message) + (session.map(compact) ?? "") }

    /// The session and reply a stored response's id names; nil for any other id.
    static func reply(response id: String) -> (session: String, message: String)? {
        guard id.hasPrefix("resp_") else { return nil }
        let body = id.dropFirst(5)
        guard body.count > 32, let message = expand(body.prefix(32)), let session = expand(body.dropFirst(32)) else { return nil }
        return (session, message)
    }

    static func item(_ message: String) -> String { "msg_" + compact(message) }

    static func message(item id: String) -> String? {
        guard id.hasPrefix("msg_") else { return nil }
        return expand(id.dropFirst(4))
    }

    /// A UUID without its dashes (ids keep to letters, digits and `_`); other ids as they are.
    private static func compact(_ id: String) -> String { id.replacingOccurrences(of: "-", with: "") }

    /// 32 hex digits back into a UUID; other ids (16 to 64 letters and digits) as they are.
    private static func expand(_ text: Substring) -> String? {
        guard (16...64).contains(text.utf8.count), text.utf8.allSatisfy(Validation.isASCIIAlphanumeric) else { return nil }
        let hex = text.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }
        guard text.count == 32, hex else { return String(text) }
        var uuid = String(text)
        for offset in [8, 13, 18, 23] { uuid.insert("-", at: uuid.index(uuid.startIndex, offsetBy: offset)) }
        return uuid
    }
}
