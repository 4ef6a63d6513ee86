import ConfabCore

/// One Socket.IO v5 packet, the text of an Engine.IO message: a type digit, then an optional
/// `/namespace,`, an optional ack id, and JSON data (`2/chat,7["message",{…}]`).
struct SocketIOPacket: Sendable, Equatable {
    enum Kind: Int, Sendable {
        case connect = 0
        case disconnect = 1
        case event = 2
        case ack = 3
        case connectError = 4
    }

    /// What a peer sent that is not a Socket.IO packet Confab speaks.
    enum ParseError: Error, Equatable {
        case empty
        /// Types 5 and 6 carry their data in separate binary frames; maim_message never sends them.
        case binaryUnsupported
        case unknownType
        case badData
    }

    var kind: Kind
    /// `/` unless the client named another; maim_message only uses `/`.
    var namespace: String
    /// Set when the sender wants an ACK packet back with the same id.
    var ackID: Int?
    /// CONNECT: the auth object (maim_message sends `{}`); EVENT: `[name, args…]`; ACK: the
    /// answer's arguments; CONNECT_ERROR: `{"message":…}`; DISCONNECT: none.
    var data: JSONValue?

    init(kind: Kind, namespace: String = "/", ackID: Int? = nil, data: JSONValue? = nil) {
        self.kind = kind
        self.namespace = namespace
        self.ackID = ackID
        self.data = data
    }

    init(parsing text: String) throws(ParseError) {
        let bytes = Array(text.utf8)
        guard let first = bytes.first else { throw .empty }
        guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(first) else { throw .unknownType }
        let digit = Int(first - UInt8(ascii: "0"))
        if digit == 5 || digit == 6 { throw .binaryUnsupported }
        guard let kind = Kind(rawValue: digit) else { throw .unknownType }
        var index = 1
        var namespace = "/"
        if index < bytes.count, bytes[index] == UInt8(ascii: "/") {
            let start = index
            while index < bytes.count, bytes[index] != UInt8(ascii: ",") { index += 1 }
            namespace = String(decoding: bytes[start..<index], as: UTF8.self)
            if index < bytes.count { index += 1 }  // the comma
        }
        var ackID: Int?
        let digitsStart = index
        while index < bytes.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(bytes[index]) { index += 1 }
        if index > digitsStart {
            // Ids are a client's counter; one longer than Int is garbage, not an id.
            guard let id = Int(String(decoding: bytes[digitsStart..<index], as: UTF8.self)) else { throw .badData }
            ackID = id
        }
        var data: JSONValue?
        if index < bytes.count {
            guard let value = try? JSONValue.parse(bytes: Array(bytes[index...])) else { throw .badData }
            data = value
        }
        try Self.check(kind, data)
        self.init(kind: kind, namespace: namespace, ackID: ackID, data: data)
    }

    /// The shapes socket.io-parser accepts: a packet another server would refuse is refused here too.
    private static func check(_ kind: Kind, _ data: JSONValue?) throws(ParseError) {
        switch (kind, data) {
        case (.connect, nil), (.connect, .object?): return
        case (.disconnect, nil): return
        case (.event, .array(let values)?) where values.first?.string != nil: return
        case (.ack, .array?): return
        case (.connectError, .object?), (.connectError, .string?): return
        default: throw .badData
        }
    }

    var encoded: String {
        var out = String(kind.rawValue)
        if namespace != "/" { out += namespace + "," }
        if let ackID { out += String(ackID) }
        if let data { out += data.serialized }
        return out
    }

    /// An event's name, for an EVENT packet.
    var eventName: String? {
        guard kind == .event, case .array(let values)? = data else { return nil }
        return values.first?.string
    }

    /// An event's arguments after its name (maim_message sends exactly one: the message object).
    var eventArguments: [JSONValue] {
        guard kind == .event, case .array(let values)? = data else { return [] }
        return Array(values.dropFirst())
    }

    /// The answer to a client's CONNECT; the client keeps `sid` as its id in the namespace.
    static func connected(sid: String, namespace: String = "/") -> SocketIOPacket {
        SocketIOPacket(kind: .connect, namespace: namespace, data: ["sid": .string(sid)])
    }

    static func connectError(_ message: String, namespace: String = "/") -> SocketIOPacket {
        SocketIOPacket(kind: .connectError, namespace: namespace, data: ["message": .string(message)])
    }

    static func event(_ name: String, _ arguments: [JSONValue], namespace: String = "/", ackID: Int? = nil) -> SocketIOPacket {
        SocketIOPacket(kind: .event, namespace: namespace, ackID: ackID, data: .array([.string(name)] + arguments))
    }
}
