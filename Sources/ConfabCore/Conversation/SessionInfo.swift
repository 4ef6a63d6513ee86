/// A conversation's metadata, as listed in a user's sessions.
public struct SessionInfo: Codable, Sendable, Equatable {
    public var id: String
    /// The start of the first user message; empty until one is sent.
    public var title: String
    public var persona: String
    public var createdAt: Double
    public var updatedAt: Double
    public var messageCount: Int
    public var usage: Usage

    public init(id: String, title: String, persona: String, createdAt: Double, updatedAt: Double,
                messageCount: Int, usage: Usage = Usage(promptTokens: 0, completionTokens: 0)) {
        self.id = id
        self.title = title
        self.persona = persona
        self.createdAt = createdAt
        self.updatedAt = updatedAt
        self.messageCount = messageCount
        self.usage = usage
    }

    enum CodingKeys: String, CodingKey {
        case id, title, persona, usage
        case createdAt = "created_at"
        case updatedAt = "updated_at"
        case messageCount = "message_count"
    }

    /// Titles are the first words of the first message, on one line.
    public static func title(from message: String, limit: Int = 60) -> String {
        let line = message.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
        let trimmed = line.trimmingCharacters(in: .whitespaces)
        return trimmed.count <= limit ? trimmed : String(trimmed.prefix(limit - 1)) + "…"
    }
}

import Foundation
