import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat

/// The HTTP methods the API uses (named here so that this module needs no NIOHTTP1).
enum Method: String {
    case GET, POST, PUT, PATCH, DELETE
}

/// How every call goes over the wire: the URL and headers, the JSON body, and the answer
/// turned into a value or a ``ConfabClientError``.
extension ConfabClient {
    /// Answers bigger than this are not the API's: a misconfigured URL pointing at a file server.
    static let maximumBodyBytes = 16 << 20

    /// A request to `path` (which starts with `/`) with `query` percent-encoded and, when given,
    /// `body` as JSON.
    func request(_ method: Method, _ path: String, query: [String: String] = [:],
                 body: (any Encodable)? = nil, token: String? = nil) throws(ConfabClientError) -> HTTPClientRequest {
        guard var components = URLComponents(string: baseURL + path), components.host != nil else {
            throw .invalidURL(baseURL + path)
        }
        if !query.isEmpty {
            components.queryItems = query.sorted { $0.key < $1.key }.map { URLQueryItem(name: $0.key, value: $0.value) }
        }
        guard let url = components.string else { throw .invalidURL(baseURL + path) }
        var request = HTTPClientRequest(url: url)
        request.method = .init(rawValue: method.rawValue)
        request.headers.add(name: "Accept", value: "application/json")
        if let credential = token ?? apiKey {
            request.headers.add(name: "Authorization", value: "Bearer \(credential)")
        }
        if let body {
            do {
                request.body = .bytes(ByteBuffer(data: try JSONEncoder().encode(body)))
            } catch {
                throw .invalidResponse("could not encode the request: \(error)")
            }
            request.headers.add(name: "Content-Type", value: "application/json")
        }
        return request
    }

    /// Sends `request` and answers the response once its status is a success; the body is left
    /// unread, for the caller to stream. A refusal becomes ``ConfabClientError/server``.
    func open(_ request: HTTPClientRequest, timeout: TimeAmount) async throws(ConfabClientError) -> HTTPClientResponse {
        let response: HTTPClientResponse
        do {
            response = try await http.execute(request, timeout: timeout)
        } catch let error as HTTPClientError where error == .deadlineExceeded {
            throw .timedOut("no answer within \(timeout.nanoseconds / 1_000_000_000) s")
        } catch {
            throw .unreachable(String(describing: error))
        }
        guard (200..<300).contains(response.status.code) else {
            let body = try? await response.body.collect(upTo: Self.maximumBodyBytes)
            throw Self.serverError(status: Int(response.status.code), retryAfter: response.headers.first(name: "Retry-After"), body: body)
        }
        return response
    }

    /// Sends a request and decodes its JSON answer as `Reply`.
    func send<Reply: Decodable>(_ method: Method, _ path: String, query: [String: String] = [:],
                                body: (any Encodable)? = nil, token: String? = nil,
                                as reply: Reply.Type = Reply.self) async throws(ConfabClientError) -> Reply {
        let response = try await open(request(method, path, query: query, body: body, token: token), timeout: requestTimeout)
        let buffer: ByteBuffer
        do {
            buffer = try await response.body.collect(upTo: Self.maximumBodyBytes)
        } catch {
            throw .unreachable("the answer broke off: \(error)")
        }
        do {
            return try JSONDecoder().decode(Reply.self, from: buffer)
        } catch {
            throw .invalidResponse("\(Reply.self): \(error)")
        }
    }

    /// The API's error shape read from a refusal; a body that is not one (a proxy's HTML page)
    /// still gives the status, with `http_<status>` as its code.
    static func serverError(status: Int, retryAfter header: String?, body: ByteBuffer?) -> ConfabClientError {
        // Retry-After may also be an HTTP date; Confab always sends seconds.
        let retryAfter = header.flatMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        if let body, let envelope = try? JSONDecoder().decode(ErrorEnvelope.self, from: body) {
            return .server(status: status, code: envelope.error.code, message: envelope.error.message, retryAfter: retryAfter)
        }
        let text = body.map { String(buffer: $0).prefix(200) } ?? ""
        return .server(status: status, code: "http_\(status)", message: text.isEmpty ? "HTTP \(status)" : String(text),
                       retryAfter: retryAfter)
    }

    /// A path segment with anything but unreserved characters escaped, so an id cannot change the route.
    static func segment(_ id: String) -> String {
        id.addingPercentEncoding(withAllowedCharacters: .alphanumerics.union(CharacterSet(charactersIn: "-._~"))) ?? id
    }
}

/// `{"error": {...}}`, the body of every refusal.
private struct ErrorEnvelope: Decodable {
    var error: ErrorDetail
}
