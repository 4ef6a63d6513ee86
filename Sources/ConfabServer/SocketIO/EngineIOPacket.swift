import ConfabCore

/// One Engine.IO v4 packet: a type digit and its text (docs/WEBSOCKET.md, `/ws/`). On the
/// websocket each packet is one text frame; on polling, packets are joined by U+001E.
enum EngineIOPacket: Sendable, Equatable {
    case open(EngineIOHandshake)
    case close
    /// The server pings with an empty payload; a client probing the upgrade sends `2probe`.
    case ping(String)
    case pong(String)
    /// A Socket.IO packet, still encoded.
    case message(String)
    case upgrade
    case noop

    /// What a peer sent that is not an Engine.IO packet Confab speaks.
    enum ParseError: Error, Equatable {
        case empty
        /// `b…` (base64) and binary frames: maim_message never sends them.
        case binaryUnsupported
        case unknownType(Character)
        case badHandshake
    }

    /// The record separator between the packets of one polling request or response.
    static let separator: Character = "\u{1e}"

    init(parsing text: Substring) throws(ParseError) {
        guard let type = text.first else { throw .empty }
        let data = String(text.dropFirst())
        switch type {
        case "0":
            guard let json = try? JSONValue.parse(data), let handshake = EngineIOHandshake(json) else { throw .badHandshake }
            self = .open(handshake)
        case "1": self = .close
        case "2": self = .ping(data)
        case "3": self = .pong(data)
        case "4": self = .message(data)
        case "5": self = .upgrade
        case "6": self = .noop
        case "b": throw .binaryUnsupported
        default: throw .unknownType(type)
        }
    }

    init(parsing text: String) throws(ParseError) {
        try self.init(parsing: text[...])
    }

    var encoded: String {
        switch self {
        case .open(let handshake): "0" + handshake.json
        case .close: "1"
        case .ping(let data): "2" + data
        case .pong(let data): "3" + data
        case .message(let data): "4" + data
        case .upgrade: "5"
        case .noop: "6"
        }
    }

    /// The packets of a polling POST body. An empty body is no packet at all, which the protocol
    /// does not allow, so it is refused like an empty packet.
    static func packets(inPayload body: String) throws(ParseError) -> [EngineIOPacket] {
        var packets: [EngineIOPacket] = []
        for part in body.split(separator: separator, omittingEmptySubsequences: false) {
            packets.append(try EngineIOPacket(parsing: part))
        }
        return packets
    }

    /// A polling GET response carrying these packets.
    static func payload(_ packets: [EngineIOPacket]) -> String {
        packets.map(\.encoded).joined(separator: String(separator))
    }
}

/// The open packet's data: the session id, and the timings the client holds the server to
/// (it gives up on a socket silent for pingInterval + pingTimeout).
struct EngineIOHandshake: Sendable, Equatable {
    var sid: String
    var upgrades: [String]
    /// Milliseconds, as on the wire.
    var pingInterval: Int
    var pingTimeout: Int
    /// The largest polling body, in bytes.
    var maxPayload: Int

    init(sid: String, upgrades: [String] = ["websocket"], pingInterval: Int = 25_000, pingTimeout: Int = 20_000,
         maxPayload: Int = 1_000_000) {
        self.sid = sid
        self.upgrades = upgrades
        self.pingInterval = pingInterval
        self.pingTimeout = pingTimeout
        self.maxPayload = maxPayload
    }

    init?(_ json: JSONValue) {
        guard let sid = json["sid"]?.string, let pingInterval = json["pingInterval"]?.int,
              let pingTimeout = json["pingTimeout"]?.int else { return nil }
        let upgrades = json["upgrades"]?.array?.compactMap(\.string) ?? []
        self.init(sid: sid, upgrades: upgrades, pingInterval: pingInterval, pingTimeout: pingTimeout,
                  maxPayload: json["maxPayload"]?.int ?? 1_000_000)
    }

    var json: String {
        let value: JSONValue = [
            "sid": .string(sid),
            "upgrades": .array(upgrades.map(JSONValue.string)),
            "pingInterval": .number(Double(pingInterval)),
            "pingTimeout": .number(Double(pingTimeout)),
            "maxPayload": .number(Double(maxPayload)),
        ]
        return value.serialized
    }
}
