import ConfabCore
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import Synchronization

/// OpenAI's Responses WebSocket mode (`client.responses.connect()`): each `response.create`
/// message is a `POST /v1/responses` with `stream` implied, and its events are the streamed
/// response's, one per message. One response runs at a time on a socket, as at OpenAI; a bad
/// event gets an `error` event and the socket stays open.
struct ResponsesSocketController: Sendable {
    typealias Context = ConfabRequestContext
    let responses: ResponsesController
    let authenticator: BearerAuthenticator
    var validate: Validation { responses.validate }

    func addRoutes(to router: Router<Context>, http: RouteTable<Context>) {
        router.ws("/v1/responses", shouldUpgrade: { _, context in
            _ = try validate.signedIn(context)
            return .upgrade([:])
        }, onUpgrade: serve)
        http.get("/v1/responses") { _, context in
            _ = try validate.signedIn(context)
            throw APIError.webSocketRequired
        }
    }

    @Sendable func serve(_ inbound: WebSocketInboundStream, _ outbound: WebSocketOutboundWriter,
                         _ socket: WebSocketRouterContext<Context>) async throws {
        guard case .user(let user) = socket.requestContext.identity else { return }
        let busy = ResponseSlot()
        try await SocketWriter.serving(outbound) { writer, group in
            for try await message in inbound.messages(maxSize: validate.settings.maxChatBodyBytes) {
                guard case .text(let text) = message else {
                    writer.send(Self.error(APIError(.badRequest, code: "binary_not_supported", "send JSON in text messages")))
                    continue
                }
                do {
                    let body = try validate.decode(ResponseSocketEvent.self, from: text)
                    guard body.type == "response.create" else {
                        throw APIError(.badRequest, code: "unsupported_event",
                                       "event type \(body.type.debugDescription) is not supported; send response.create")
                    }
                    let request = try validate.decode(ResponseCreateRequest.self, from: text)
                    guard busy.take() else {
                        throw APIError(.conflict, code: "response_in_progress", "a response is already running on this socket")
                    }
                    group.addTask {
                        defer { busy.free() }
                        await respond(request, user: user, writer: writer)
                    }
                } catch {
                    writer.send(Self.error(error))
                }
            }
        }
    }

    private func respond(_ request: ResponseCreateRequest, user: SignedInUser, writer: SocketWriter) async {
        do {
            let user = try await authenticator.recheck(user, turnPath: "/v1/responses")
            let (turn, response, keptIn) = try await responses.begin(request, owner: .user(user))
            var encoder = ResponsesStreamEncoder(response, keptIn: keptIn)
            try await TurnRunner.stream(turn, onDisconnect: validate.settings.onDisconnect) { event in
                var framer = WebSocketFramer(tag: nil)
                encoder.encode(event, into: &framer)
                framer.messages.forEach(writer.send)
            }
        } catch is CancellationError {
        } catch {
            writer.send(Self.error(error))
        }
    }

    /// The SDK's `error` server event: `{"type":"error","status":…,"error":{type, code, message, param}}`.
    static func error(_ error: any Error) -> ByteBuffer {
        let apiError = error as? APIError ?? APIError(.internalServerError, code: "internal_error", "the event could not be handled")
        let body: JSONValue = ["type": "error", "status": .number(Double(apiError.status.code)), "error": apiError.info.openAI]
        return ByteBuffer(string: body.serialized)
    }
}

/// Just the event's type, read first: only `response.create` is decoded further.
private struct ResponseSocketEvent: Decodable {
    var type: String
}

/// The one response a socket may run at a time.
private final class ResponseSlot: Sendable {
    private let taken = Atomic<Bool>(false)

    func take() -> Bool { taken.compareExchange(expected: false, desired: true, ordering: .acquiringAndReleasing).exchanged }
    func free() { taken.store(false, ordering: .releasing) }
}
