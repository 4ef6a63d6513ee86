import ConfabCore

/// A Confab session as Open WebUI's chat object: `{id, user_id, title, chat, created_at,
/// updated_at, …}` with times in seconds. `chat` is the document its client last sent, kept as
/// sent; a session begun at another door has none, so one is made from its history (a linear
/// message tree), and the client continues the same conversation.
enum OpenWebUIChat {
    static func object(_ session: SessionInfo, document: JSONValue?, history: [ChatMessage], owner: Owner) -> JSONValue {
        [
            "id": .string(session.id), "user_id": .string(owner.shownID), "title": .string(session.title),
            "chat": document ?? made(session, history: history),
            "created_at": .number(session.createdAt.rounded(.down)), "updated_at": .number(session.updatedAt.rounded(.down)),
            "share_id": .null, "archived": false, "pinned": false, "meta": [:], "folder_id": .null,
        ]
    }

    /// The list entry: what `list_chats()` and the search by title read.
    static func entry(_ session: SessionInfo) -> JSONValue {
        ["id": .string(session.id), "title": .string(session.title),
         "created_at": .number(session.createdAt.rounded(.down)), "updated_at": .number(session.updatedAt.rounded(.down))]
    }

    /// A chat document for a session that has none: its title, persona and stored messages.
    static func made(_ session: SessionInfo, history: [ChatMessage]) -> JSONValue {
        var tree: [String: JSONValue] = [:]
        var linear: [JSONValue] = []
        for (index, message) in history.enumerated() {
            let item: JSONValue = [
                "id": .string(message.id), "parentId": index > 0 ? .string(history[index - 1].id) : .null,
                "childrenIds": .array(index + 1 < history.count ? [.string(history[index + 1].id)] : []),
                "role": .string(message.role.rawValue), "content": .string(message.content),
                "timestamp": .number(message.timestamp.rounded(.down)),
            ]
            tree[message.id] = item
            linear.append(item)
        }
        return ["title": .string(session.title), "models": [.string(session.persona)],
                "history": ["messages": .object(tree), "currentId": history.last.map { .string($0.id) } ?? .null],
                "messages": .array(linear), "files": []]
    }
}
