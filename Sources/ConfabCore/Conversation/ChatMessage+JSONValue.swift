/// Reading stored messages field by field with the one-pass `JSONReader`: every turn reads its
/// window of history from Redis, and Foundation's Codable decoding of it was ~5% of Confab's CPU
/// under load; through a dictionary per message it was still ~8% of a turn's instructions, and
/// field by field it is about half that (docs/PERFORMANCE.md). `Codable` writes the format; the round-trip tests hold the two to the
/// same field names.
extension ChatMessage {
    /// Nil when the bytes are not one JSON object, or a required field is missing or of the wrong
    /// type, as the Codable decoder would fail. A key given twice counts the last time.
    init?(stored bytes: [UInt8]) {
        var reader = JSONReader(bytes: bytes)
        var id: String?, role: String?, content: String?, timestamp: Double?, status: String?
        var persona: String?, model: String?, finishReason: String?, reason: String?
        var usage: Usage?, error: ErrorInfo?, parts: [MessagePart]?
        do {
            try reader.members(depth: 0) { reader, key in
                switch key {
                case _ where key.spells("id"): id = try reader.optionalString(depth: 1)
                case _ where key.spells("role"): role = try reader.optionalString(depth: 1)
                case _ where key.spells("content"): content = try reader.optionalString(depth: 1)
                case _ where key.spells("timestamp"): timestamp = try reader.value(depth: 1).double
                case _ where key.spells("status"): status = try reader.optionalString(depth: 1)
                case _ where key.spells("persona"): persona = try reader.optionalString(depth: 1)
                case _ where key.spells("model"): model = try reader.optionalString(depth: 1)
                case _ where key.spells("finish_reason"): finishReason = try reader.optionalString(depth: 1)
                case _ where key.spells("reason"): reason = try reader.optionalString(depth: 1)
                case _ where key.spells("usage"): usage = Usage(json: try reader.value(depth: 1))
                case _ where key.spells("error"): error = ErrorInfo(json: try reader.value(depth: 1))
                case _ where key.spells("parts"): parts = try reader.value(depth: 1).array.map { $0.compactMap(MessagePart.init(json:)) }
                default: try reader.skipValue(depth: 1)
                }
            }
            reader.skipSpace()
            guard reader.index == reader.bytes.count else { return nil }
        } catch {
            return nil
        }
        guard let id, let role = role.flatMap(Role.init(rawValue:)), let content, let timestamp,
              let status = status.flatMap(Status.init(rawValue:)) else { return nil }
        self.init(id: id, role: role, content: content, timestamp: timestamp, status: status, persona: persona, model: model,
                  finishReason: finishReason, usage: usage, error: error, reason: reason, parts: parts)
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
