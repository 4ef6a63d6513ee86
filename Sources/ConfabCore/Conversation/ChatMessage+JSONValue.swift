/// Reading stored messages with the one-pass `JSONValue` reader: every turn reads its window of
/// history from Redis, and Foundation's Codable decoding of it was ~5% of Confab's CPU under
/// load (docs/PERFORMANCE.md). Field names come from the `CodingKeys`, so the stored format is
/// defined once; `Codable` still writes it.
extension ChatMessage {
    /// Nil when a required field is missing or of the wrong type, as the Codable decoder would fail.
    init?(json: JSONValue) {
        func field(_ key: CodingKeys) -> JSONValue? {
            guard let value = json[key.rawValue], value != .null else { return nil }
            return value
        }
        guard let id = field(.id)?.string, let role = field(.role)?.string.flatMap(Role.init(rawValue:)),
              let content = field(.content)?.string, let timestamp = field(.timestamp)?.double,
              let status = field(.status)?.string.flatMap(Status.init(rawValue:)) else { return nil }
        self.init(id: id, role: role, content: content, timestamp: timestamp, status: status,
                  persona: field(.persona)?.string, model: field(.model)?.string,
                  finishReason: field(.finishReason)?.string, usage: field(.usage).flatMap(Usage.init(json:)),
                  error: field(.error).flatMap(ErrorInfo.init(json:)), reason: field(.reason)?.string,
                  parts: field(.parts)?.array.map { $0.compactMap(MessagePart.init(json:)) })
    }
}

extension Usage {
    /// Missing counts read as 0 and a missing total as their sum, as some servers leave them out.
    init?(json: JSONValue) {
        guard case .object = json else { return nil }
        self.init(promptTokens: json[CodingKeys.promptTokens.rawValue]?.int ?? 0,
                  completionTokens: json[CodingKeys.completionTokens.rawValue]?.int ?? 0,
                  totalTokens: json[CodingKeys.totalTokens.rawValue]?.int,
                  estimated: json[CodingKeys.estimated.rawValue] == .bool(true))
    }
}

extension ErrorInfo {
    init?(json: JSONValue) {
        guard let message = json[CodingKeys.message.rawValue]?.string, let type = json[CodingKeys.type.rawValue]?.string,
              let code = json[CodingKeys.code.rawValue]?.string else { return nil }
        self.init(message: message, type: type, code: code, retryAfter: json[CodingKeys.retryAfter.rawValue]?.int)
    }
}
