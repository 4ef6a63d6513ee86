import ConfabCore
import Foundation
import Hummingbird
import HummingbirdWebSocket

/// `GET /chat/ws`: Confab's chat over one WebSocket (docs/WEBSOCKET.md). Each `chat` message
/// begins a turn as `/chat/stream` does and its events go back through the same encoders,
/// framed as messages tagged with the client's `request_id`; many turns run at once. A message
/// that cannot be acted on is answered with an error message and the socket stays open.
struct ChatSocketController: Sendable {
    typealias Context = ConfabRequestContext
    let chat: ChatController
    let authenticator: BearerAuthenticator
    var validate: Validation { chat.validate }

    func addRoutes(to router: Router<Context>, http: RouteTable<Context>) {
        // Credentials are checked before the upgrade (a refusal is answered with its status); a
        // plain GET on the path learns that it speaks WebSocket.
        router.ws("/chat/ws", shouldUpgrade: { _, context in
            try validate.chatCaller(context)
            return .upgrade([:])
        }, onUpgrade: serve)
        http.get("/chat/ws") { _, context in
            try validate.chatCaller(context)
            throw APIError.webSocketRequired
        }
    }

    @Sendable func serve(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter,
                         _ socket: WebSocketRouterContext<Context>) async throws {
        let running = RunningTurns()
        // When the socket closes, its turns end as a closed SSE stream's do (the disconnect policy).
        try await SocketWriter.serving(outbound) { writer, group in
            // A message over the limit closes the socket with 1009: a fragmented one throws here, a
            // single frame is held only to the server's frame limit (the Responses door's), so it is measured.
            let limit = validate.settings.webSocketMaxMessageBytes
            for try await message in inbound.messages(maxSize: limit) {
                guard message.size <= limit else {
                    try await outbound.close(.messageTooLarge, reason: "messages on this socket are at most \(limit) bytes")
                    return
                }
                guard case .text(let text) = message else {
                    writer.send(Self.error(APIError(.badRequest, code: "binary_not_supported", "send JSON in text messages"), requestID: nil))
                    continue
                }
                let frame: ChatSocketFrame
                do {
                    frame = try ChatSocketFrame(text, validate: validate)
                } catch {
                    writer.send(Self.error(error, requestID: ChatSocketFrame.requestID(in: text)))
                    continue
                }
                switch frame {
                case .ping:
                    writer.send("{\"type\":\"pong\"}")
                case .stop(let id):
                    if !running.stop(id) {
                        writer.send(Self.error(APIError(.notFound, code: "turn_not_found", "no running turn has this request_id"), requestID: id))
                    }
                case .chat(let id, let fields):
                    switch running.reserve(id) {
                    case .reserved: break
                    case .duplicate:
                        writer.send(Self.error(APIError(.conflict, code: "duplicate_request_id", "a turn with this request_id is running"),
                                               requestID: id))
                        continue
                    case .full:
                        writer.send(Self.error(APIError(.tooManyRequests, code: "too_many_turns",
                                                        "at most \(RunningTurns.limit) turns run at once on one socket"), requestID: id))
                        continue
                    }
                    group.addTask { await turn(id, fields: fields, socket: socket.requestContext, writer: writer, running: running) }
                }
            }
        }
    }

    /// One turn on the socket, from its `chat` message to its ending.
    private func turn(_ id: String, fields: [String: String], socket: Context, writer: SocketWriter, running: RunningTurns) async {
        var begun: Turn?
        defer { if let begun { running.finished(id, begun) } else { running.remove(id) } }
        let tag = WebSocketFramer.tag(requestID: id)
        do {
            var context = socket
            if case .user(let user) = socket.identity {
                context.identity = .user(try await authenticator.recheck(user, turnPath: "/chat/ws"))
            }
            let owner = try validate.owner(context, given: fields["user_id"])
            let start = try await chat.beginTurn(owner, fields: { fields[$0] }, sessions: .newWhenAbsent)
            begun = start.turn
            // Stopped before it began: it runs to its stop at once, so its ending is stored and sent.
            if !running.started(id, start.turn) { start.turn.stop() }
            if start.createdSession {
                var framer = WebSocketFramer(tag: tag)
                framer.payload { $0.writeJSON(["type": "session", "session_id": .string(start.turn.session),
                                               "persona": .string(start.turn.persona.id)]) }
                framer.messages.forEach(writer.send)
            }
            switch start.format {
            case .confab: try await stream(start.turn, encoder: ConfabStreamEncoder(), id: id, running: running, writer: writer)
            case .aiSDK: try await stream(start.turn, encoder: UIMessageStreamEncoder(), id: id, running: running, writer: writer)
            }
        } catch is CancellationError {
        } catch {
            writer.send(Self.error(error, requestID: id))
        }
    }

    private func stream(_ turn: Turn, encoder: some StreamEncoder, id: String, running: RunningTurns, writer: SocketWriter) async throws {
        var encoder = encoder
        let tag = WebSocketFramer.tag(requestID: id)
        try await TurnRunner.stream(turn, onDisconnect: validate.settings.onDisconnect) { event in
            // The request id is free again once the client can see the ending.
            if event.isEnding { running.finished(id, turn) }
            var framer = WebSocketFramer(tag: tag)
            encoder.encode(event, into: &framer)
            framer.messages.forEach(writer.send)
        }
    }

    /// `{"type":"error","request_id":…,"error":{status, message, type, code}}`.
    static func error(_ error: any Error, requestID: String?) -> ByteBuffer {
        let apiError = error as? APIError ?? APIError(.internalServerError, code: "internal_error", "the message could not be handled")
        guard case .object(var info) = apiError.info.json else { fatalError("ErrorInfo.json is an object") }
        info["status"] = .number(Double(apiError.status.code))
        if let retry = apiError.headers[.retryAfter].flatMap(Int.init) { info["retry_after"] = .number(Double(retry)) }
        var body: [String: JSONValue] = ["type": "error", "error": .object(info)]
        if let requestID { body["request_id"] = .string(requestID) }
        return ByteBuffer(string: JSONValue.object(body).serialized)
    }
}

extension APIError {
    static let webSocketRequired = APIError(HTTPResponse.Status(code: 426, reasonPhrase: "Upgrade Required"), code: "websocket_required",
                                            "this route speaks WebSocket: send an upgrade request", headers: [.upgrade: "websocket"])
}

extension WebSocketMessage {
    /// Bytes on the wire (uncompressed).
    var size: Int {
        switch self {
        case .text(let text): text.utf8.count
        case .binary(let buffer): buffer.readableBytes
        }
    }
}
