import ConfabCore
import Foundation
import Hummingbird

/// An error as the API answers it: a status and `{"error": {"message", "type", "code"}}`.
public struct APIError: HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var info: ErrorInfo
    public var headers: HTTPFields = [:]

    public init(_ status: HTTPResponse.Status, code: String, _ message: String, headers: HTTPFields = [:]) {
        self.status = status
        self.info = ErrorInfo(message: message, type: Self.type(for: status), code: code)
        self.headers = headers
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var headers = self.headers
        headers[.contentType] = "application/json; charset=utf-8"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body(path: request.uri.path).serialized)))
    }

    /// The error as the door of `path` shows it.
    func body(path: String) -> JSONValue {
        switch ErrorShape(path: path) {
        case .confab: ["error": info.json]
        case .openAI: ["error": info.openAI]
        case .openWebUI: ["detail": .string(info.message)]
        }
    }

    static func type(for status: HTTPResponse.Status) -> String {
        switch status.code {
        case 401: "authentication_error"
        case 403: "permission_error"
        case 404: "not_found"
        case 405: "method_not_allowed"
        case 409: "conflict"
        case 413: "payload_too_large"
        case 429: "rate_limit_error"
        case 400..<500: "invalid_request_error"
        case 503: "service_unavailable"
        default: "server_error"
        }
    }

    static func missing(_ name: String) -> APIError {
        APIError(.badRequest, code: "missing_parameter", "\(name) is required")
    }

    static let sessionNotFound = APIError(.notFound, code: "session_not_found", "no such session for this user")

    static func storeUnavailable(_ cause: Any) -> APIError {
        APIError(.serviceUnavailable, code: "store_unavailable", "conversation storage is unavailable: \(cause)")
    }

    static let shuttingDown = APIError(.serviceUnavailable, code: "shutting_down", "the service is shutting down")
}

/// How each front door's clients expect an error: Confab's `{"error": {message, type, code}}`,
/// OpenAI's (the same with `param`), or Open WebUI's FastAPI `{"detail": …}`.
enum ErrorShape {
    case confab, openAI, openWebUI

    init(path: String) {
        if path.hasPrefix("/v1/") {
            self = .openAI
        } else if path == "/api/models" || path.hasPrefix("/api/v1/chats") || path == "/api/chat/completions" {
            self = .openWebUI
        } else {
            self = .confab
        }
    }
}

/// Runs a store call; a failure of the store becomes a 503 `store_unavailable`.
func storage<T>(_ call: () async throws -> T) async throws(APIError) -> T {
    do {
        return try await call()
    } catch {
        throw APIError.storeUnavailable(error)
    }
}

/// Turns every error into the API's JSON error shape, so no client ever sees an HTML or
/// empty error body; anything unexpected is a 500 whose details stay in the log. It returns the
/// error as a response, so outer middleware (CORS) still sees it.
struct JSONErrorMiddleware<Context: RequestContext>: RouterMiddleware {
    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let error: APIError
        do {
            return try await next(request, context)
        } catch let apiError as APIError {
            error = apiError
        } catch let httpError as HTTPError {
            error = APIError(httpError.status, code: Self.code(httpError.status), httpError.body ?? httpError.status.reasonPhrase)
        } catch let other as any HTTPResponseError {
            error = APIError(other.status, code: Self.code(other.status), other.status.reasonPhrase)
        } catch {
            context.logger.error("unhandled error", metadata: ["error": "\(error)"])
            return try APIError(.internalServerError, code: "internal_error", "internal error").response(from: request, context: context)
        }
        return try error.response(from: request, context: context)
    }

    static func code(_ status: HTTPResponse.Status) -> String {
        switch status.code {
        case 404: "not_found"
        case 413: "payload_too_large"
        default: APIError.type(for: status)
        }
    }
}
