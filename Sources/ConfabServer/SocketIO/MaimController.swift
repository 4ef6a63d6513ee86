import ConfabCore
import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdWebSocket

/// `/ws/`: maim_message bots over Socket.IO v5 / Engine.IO v4 (docs/WEBSOCKET.md). The polling
/// handshake opens an Engine.IO session, the client upgrades to a WebSocket at once, and each
/// `message` event there is a user's message in a chat: a turn in the session named by the
/// platform and the group (or the user), whose reply goes back as a `message` event.
struct MaimController: Sendable {
    typealias Context = ConfabRequestContext
    let chat: ChatController
    let authenticator: BearerAuthenticator
    var validate: Validation { chat.validate }
    static let handshake = EngineIOHandshake(sid: "")
    /// Chats one connection is answered in (each holds a queue and a task while the socket is open).
    static let maxChats = 1000

    /// The Socket.IO door's paths: maim_message's clients send their key their own way here.
    static func owns(_ path: String) -> Bool { path == "/ws" || path == "/ws/" }

    /// `x-apikey` (the API-server client) or a bare `Authorization: <key>` (the legacy router).
    static func apiKey(_ headers: HTTPFields) -> String? {
        let raw = headers[HTTPField.Name("x-apikey")!] ?? headers[.authorization]
        guard let raw else { return nil }
        let token = raw.lowercased().hasPrefix("bearer ") ? String(raw.dropFirst(7)) : raw
        return BearerAuthenticator.bearer("Bearer " + token)
    }

    func addRoutes(to router: Router<Context>, http: RouteTable<Context>) {
        router.ws("/ws", shouldUpgrade: { request, context in
            _ = try validate.signedIn(context)
            guard request.uri.queryParameters["EIO"] == "4", request.uri.queryParameters["transport"] == "websocket" else {
                throw APIError(.badRequest, code: "unsupported_transport", "connect with EIO=4&transport=websocket")
            }
            _ = try agentID(request)
            return .upgrade([:])
        }, onUpgrade: serve)
        http.get("/ws", use: poll)
        http.post("/ws", use: poll)
    }

    /// The polling transport: only its handshake. maim_message's clients upgrade right after it
    /// and never poll (they would only if the upgrade failed), so a poll with a `sid` is refused.
    @Sendable func poll(_ request: Request, context: Context) async throws -> Response {
        _ = try validate.signedIn(context)
        _ = try agentID(request)
        let query = request.uri.queryParameters
        guard query["EIO"] == "4", query["transport"] == "polling", query["sid"] == nil, request.method == .get else {
            throw APIError(.badRequest, code: "unsupported_transport",
                           "Engine.IO v4: open with GET ?EIO=4&transport=polling, then upgrade to transport=websocket")
        }
        var handshake = Self.handshake
        handshake.sid = Identifier.random(20)
        return Response(status: .ok, headers: [.contentType: "text/plain; charset=UTF-8"],
                        body: .init(byteBuffer: ByteBuffer(string: EngineIOPacket.open(handshake).encoded)))
    }

    /// The agent the bot's sessions play: `?agent_id=` or the `x-confab-agent` header.
    private func agentID(_ request: Request) throws -> String? {
        let given = request.uri.queryParameters["agent_id"].map(String.init) ?? request.headers[HTTPField.Name("x-confab-agent")!]
        return try given.map { try validate.agentID($0) }
    }

    @Sendable func serve(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter,
                         _ socket: WebSocketRouterContext<Context>) async throws {
        guard case .user(let user) = socket.requestContext.identity else { return }
        let bot = MaimBot(chat: chat, authenticator: authenticator, user: user, agentID: try agentID(socket.request),
                          streamReplies: validate.settings.maimStreamReplies)
        try await SocketWriter.serving(outbound) { writer, group in
            group.addTask {
                // Engine.IO's own heartbeat: without it the client drops the socket and reconnects.
                while (try? await Task.sleep(for: .milliseconds(Self.handshake.pingInterval))) != nil {
                    writer.send(EngineIOPacket.ping("").encoded)
                }
            }
            // Each chat's queue; its reader ends with the socket (cancelled).
            var chats: [String: AsyncStream<MaimMessage>.Continuation] = [:]
            if socket.request.uri.queryParameters["sid"] == nil {
                // Straight to WebSocket, no polling first: the handshake comes on the socket.
                var handshake = Self.handshake
                handshake.sid = Identifier.random(20)
                writer.send(EngineIOPacket.open(handshake).encoded)
            }
            for try await message in inbound.messages(maxSize: Self.handshake.maxPayload) {
                guard message.size <= Self.handshake.maxPayload else {
                    try await outbound.close(.messageTooLarge, reason: "packets are at most \(Self.handshake.maxPayload) bytes")
                    return
                }
                guard case .text(let text) = message, let packet = try? EngineIOPacket(parsing: text) else { continue }
                switch packet {
                case .ping(let data): writer.send(EngineIOPacket.pong(data).encoded)  // "2probe" → "3probe" too
                case .close: return
                case .message(let data):
                    guard let packet = try? SocketIOPacket(parsing: data) else { continue }
                    if packet.kind == .event, packet.ackID != nil {
                        // Nothing is answered through acks here; a client that asks for one gets it, empty.
                        let ack = SocketIOPacket(kind: .ack, namespace: packet.namespace, ackID: packet.ackID, data: .array([]))
                        writer.send(EngineIOPacket.message(ack.encoded).encoded)
                    }
                    switch packet.kind {
                    case .connect where packet.namespace != "/":
                        writer.send(EngineIOPacket.message(SocketIOPacket.connectError("Invalid namespace", namespace: packet.namespace).encoded).encoded)
                    case .connect: writer.send(EngineIOPacket.message(SocketIOPacket.connected(sid: Identifier.random(20)).encoded).encoded)
                    case .disconnect: return
                    case .event where packet.eventName == "message":
                        guard let body = packet.eventArguments.first, let inbound = try? MaimInbound(body),
                              case .message(let message) = inbound else { continue }
                        if let reply = bot.received(message) { writer.send(Self.event(reply)) }
                        guard bot.isNew(message) else { continue }
                        // A chat's messages are answered one after another, in the order they came.
                        if let queue = chats[message.conversationKey] {
                            queue.yield(message)
                        } else if chats.count >= Self.maxChats {
                            writer.send(Self.event(message.reply("(Confab: at most \(Self.maxChats) chats are answered on one connection)",
                                                                 messageID: UUID().uuidString.lowercased(),
                                                                 msgID: "srv_" + UUID().uuidString.lowercased(), time: Date().timeIntervalSince1970)))
                        } else {
                            let (messages, queue) = AsyncStream<MaimMessage>.makeStream()
                            chats[message.conversationKey] = queue
                            queue.yield(message)
                            group.addTask {
                                for await message in messages { await bot.answer(message) { writer.send(Self.event($0)) } }
                            }
                        }
                    default: continue
                    }
                case .open, .pong, .upgrade, .noop: continue
                }
            }
        }
    }

    /// `42["message",{…}]`.
    static func event(_ body: JSONValue) -> String {
        EngineIOPacket.message(SocketIOPacket.event("message", [body]).encoded).encoded
    }
}
