import ConfabCore

/// What a maim_message bot sent in a `message` event: a user's message, the client's ack of a
/// message Confab sent, or something Confab does not act on (custom messages).
enum MaimInbound: Sendable, Equatable {
    case message(MaimMessage)
    /// The API-server client acks every message it receives; Confab needs nothing from it.
    case clientAck(ackedMsgID: String?)
    case ignored(type: String)

    init(_ data: JSONValue) throws(MaimMessage.ParseError) {
        guard case .object = data else { throw .notAnObject }
        // The envelope is the API-server client's; the bare message dict is the legacy router's.
        if let type = data["type"]?.string, data["payload"] != nil || data["ver"] != nil {
            switch type {
            case "sys_std": self = .message(try MaimMessage(envelope: data))
            case "sys_ack": self = .clientAck(ackedMsgID: MaimMessage.id(data["meta"]?["acked_msg_id"]))
            default: self = .ignored(type: type)
            }
        } else if data["is_custom_message"] == .bool(true) || data["message_type_name"] != nil {
            self = .ignored(type: data["message_type_name"]?.string ?? "custom")
        } else {
            self = .message(try MaimMessage(legacy: data))
        }
    }
}

/// A user's message from a maim_message bot, from either client (docs/WEBSOCKET.md, `/ws/`).
/// It keeps what the reply echoes so the bot can route it back to its chat.
struct MaimMessage: Sendable, Equatable {
    enum Mode: Sendable, Equatable {
        /// `Router`/`MessageClient`: a bare message dict.
        case legacy
        /// `maim_message.client.WebSocketClient`: a `sys_std` envelope the server acks.
        case apiServer
    }

    enum ParseError: Error, Equatable {
        case notAnObject
        case missing(String)
    }

    var mode: Mode
    /// The envelope's id: acked, and remembered to drop a message sent again.
    var msgID: String?
    var platform: String
    var messageID: String
    var userID: String
    var nickname: String?
    /// Absent in a private chat.
    var groupID: String?
    var groupName: String?
    /// The message's text segments in order, through nested seglists; images and the like are left out.
    var text: String
    /// `message_dim`, which the API-server client refuses a reply without.
    var dimAPIKey: String?
    var dimPlatform: String?

    init(legacy data: JSONValue) throws(ParseError) {
        try self.init(mode: .legacy, msgID: nil, body: data, meta: nil)
    }

    init(envelope data: JSONValue) throws(ParseError) {
        guard let payload = data["payload"], case .object = payload else { throw .missing("payload") }
        guard let msgID = Self.id(data["msg_id"]) else { throw .missing("msg_id") }
        try self.init(mode: .apiServer, msgID: msgID, body: payload, meta: data["meta"])
    }

    private init(mode: Mode, msgID: String?, body: JSONValue, meta: JSONValue?) throws(ParseError) {
        guard let info = body["message_info"], case .object = info else { throw .missing("message_info") }
        // The legacy MessageBase has user_info/group_info on message_info; APIMessageBase has them
        // under sender_info. Either client may send either.
        let sender = info["sender_info"]
        let user = Self.present(info["user_info"]) ?? Self.present(sender?["user_info"])
        let group = Self.present(info["group_info"]) ?? Self.present(sender?["group_info"])
        let dim = body["message_dim"]
        guard let platform = info["platform"]?.string ?? dim?["platform"]?.string ?? meta?["platform"]?.string else {
            throw .missing("message_info.platform")
        }
        guard let userID = Self.id(user?["user_id"]) else { throw .missing("user_info.user_id") }
        self.mode = mode
        self.msgID = msgID
        self.platform = platform
        self.messageID = Self.id(info["message_id"]) ?? ""
        self.userID = userID
        self.nickname = user?["user_nickname"]?.string ?? user?["user_cardname"]?.string
        self.groupID = Self.id(group?["group_id"])
        self.groupName = group?["group_name"]?.string
        self.text = Self.text(of: body["message_segment"])
        self.dimAPIKey = dim?["api_key"]?.string ?? meta?["sender_user"]?.string
        self.dimPlatform = dim?["platform"]?.string ?? meta?["platform"]?.string
    }

    /// Names the Confab session: one per group per platform, or per user in a private chat.
    var conversationKey: String {
        // A separator no id contains, so that no two chats share a key.
        if let groupID { "group\u{1f}\(platform)\u{1f}\(groupID)" } else { "private\u{1f}\(platform)\u{1f}\(userID)" }
    }

    /// Ids are strings, but bots built on QQ adapters send numbers too.
    static func id(_ value: JSONValue?) -> String? {
        switch value {
        case .string(let text)?: text
        case .number(let number)?: Int64(exactly: number).map(String.init) ?? "\(number)"
        default: nil
        }
    }

    private static func present(_ value: JSONValue?) -> JSONValue? {
        if case .object? = value { return value }
        return nil
    }

    private static func text(of segment: JSONValue?, depth: Int = 0) -> String {
        guard let segment, depth < 32 else { return "" }
        switch segment["type"]?.string {
        case "text": return segment["data"]?.string ?? ""
        case "seglist": return (segment["data"]?.array ?? []).map { text(of: $0, depth: depth + 1) }.joined()
        default: return ""
        }
    }
}

/// The messages Confab sends back to a bot: the reply in the shape its client delivers to the
/// bot's handler, and the API-server client's ack (docs/WEBSOCKET.md, `/ws/`).
extension MaimMessage {
    /// The bot's name as the sender of replies.
    static let botUserID = "confab"

    /// The reply to this message as the `message` event's one argument. `messageID` is Confab's
    /// (the stored reply's id); `msgID` names the envelope in API-server mode; `time` is epoch seconds.
    func reply(_ text: String, messageID: String, msgID: String, time: Double) -> JSONValue {
        switch mode {
        case .legacy: legacyReply(text, messageID: messageID, time: time)
        case .apiServer: envelopeReply(text, messageID: messageID, msgID: msgID, time: time)
        }
    }

    /// A MessageBase dict; the router hands it to the bot's handler as is. `receiver_info` names
    /// the human, so a bot can route a private chat's reply.
    func legacyReply(_ text: String, messageID: String, time: Double) -> JSONValue {
        var info: [String: JSONValue] = [
            "platform": .string(platform),
            "message_id": .string(messageID),
            "time": .number(time),
            "user_info": botUserInfo,
            "receiver_info": receiverInfo,
        ]
        if let group = groupInfo { info["group_info"] = group }
        return ["message_info": .object(info), "message_segment": Self.segments(text)]
    }

    /// A `sys_std` envelope. APIMessageBase.from_dict drops a reply whose message_info lacks
    /// platform, message_id or time, or whose message_dim lacks api_key or platform.
    func envelopeReply(_ text: String, messageID: String, msgID: String, time: Double) -> JSONValue {
        var sender: [String: JSONValue] = ["user_info": botUserInfo]
        if let group = groupInfo { sender["group_info"] = group }
        let dimPlatform = dimPlatform ?? platform
        let payload: JSONValue = [
            "message_info": [
                "platform": .string(platform),
                "message_id": .string(messageID),
                "time": .number(time),
                "sender_info": .object(sender),
                "receiver_info": receiverInfo,
            ],
            "message_segment": Self.segments(text),
            "message_dim": ["api_key": .string(dimAPIKey ?? ""), "platform": .string(dimPlatform)],
        ]
        return [
            "ver": 1,
            "msg_id": .string(msgID),
            "type": "sys_std",
            "meta": ["sender_user": .string(Self.botUserID), "platform": .string(dimPlatform), "timestamp": .number(time)],
            "payload": payload,
        ]
    }

    /// The ack the API-server protocol owes each `sys_std`, the client clearing its resend cache
    /// with it. A duplicate is acked too: a message comes again when its ack was missed.
    static func ack(of msgID: String, ackMsgID: String, time: Double) -> JSONValue {
        [
            "ver": 1,
            "msg_id": .string(ackMsgID),
            "type": "sys_ack",
            "meta": ["acked_msg_id": .string(msgID), "timestamp": .number(time)],
            "payload": ["status": "received", "server_timestamp": .number(time)],
        ]
    }

    private var botUserInfo: JSONValue {
        ["platform": .string(platform), "user_id": .string(Self.botUserID), "user_nickname": "Confab"]
    }

    private var receiverInfo: JSONValue {
        var human: [String: JSONValue] = ["platform": .string(platform), "user_id": .string(userID)]
        if let nickname { human["user_nickname"] = .string(nickname) }
        var info: [String: JSONValue] = ["user_info": .object(human)]
        if let group = groupInfo { info["group_info"] = group }
        return .object(info)
    }

    private var groupInfo: JSONValue? {
        guard let groupID else { return nil }
        var info: [String: JSONValue] = ["platform": .string(platform), "group_id": .string(groupID)]
        if let groupName { info["group_name"] = .string(groupName) }
        return .object(info)
    }

    private static func segments(_ text: String) -> JSONValue {
        ["type": "seglist", "data": [["type": "text", "data": .string(text)]]]
    }
}
