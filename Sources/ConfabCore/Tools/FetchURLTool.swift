import AsyncHTTPClient
import Foundation
import NIOCore

/// Fetches a web page for `fetch_url`, only from the hosts an operator allowed
/// (`CONFAB_FETCH_URL_ALLOW`: `host` for its default port, `host:port` for another), never
/// following a redirect (it could leave the allow-list), reading at most 64 KiB.
public struct URLFetcher: Sendable {
    let client: HTTPClient
    let allowedHosts: Set<String>
    let maxBytes = 64 * 1024

    /// `client` must not follow redirects.
    public init(client: HTTPClient, allowedHosts: [String]) {
        self.client = client
        self.allowedHosts = Set(allowedHosts.map { $0.lowercased() })
    }

    func fetch(_ address: String, deadline: Duration) async throws -> JSONValue {
        guard let url = URL(string: address), let scheme = url.scheme?.lowercased(), ["http", "https"].contains(scheme),
              let host = url.host?.lowercased() else {
            throw ToolFailure("not an http(s) URL: \(address.prefix(200))")
        }
        let place = url.port.map { "\(host):\($0)" } ?? host
        guard allowedHosts.contains(place) else {
            throw ToolFailure("'\(place)' is not allowed; allowed: \(allowedHosts.sorted().joined(separator: ", "))")
        }
        var request = HTTPClientRequest(url: address)
        request.headers.add(name: "User-Agent", value: "Confab fetch_url")
        let response = try await client.execute(request, timeout: .milliseconds(deadline.milliseconds))
        var body = ByteBuffer()
        for try await var piece in response.body {
            body.writeBuffer(&piece)
            if body.readableBytes >= maxBytes { break }  // leaving the loop closes the response
        }
        let text = body.readString(length: min(body.readableBytes, maxBytes)) ?? ""
        return .object(["url": .string(address), "status": .number(Double(response.status.code)),
                        "content_type": .string(response.headers.first(name: "content-type") ?? ""),
                        "body": .string(String(text.prefix(8000)))])
    }
}

/// `fetch_url`: the text of a web page on an allowed host.
struct FetchURLTool: Tool {
    let fetcher: URLFetcher

    var spec: ToolSpec {
        ToolSpec(name: "fetch_url",
                 description: "Fetch a web page (GET) and return its status and the start of its text. Allowed hosts: "
                     + fetcher.allowedHosts.sorted().joined(separator: ", "),
                 parameters: .object(["type": .string("object"), "required": .array([.string("url")]), "properties": .object([
                     "url": .object(["type": .string("string"), "description": .string("an http(s) URL on an allowed host")]),
                 ])]))
    }

    func call(_ input: JSONValue, context: ToolContext) async throws -> JSONValue {
        guard let url = input["url"]?.string else { throw ToolFailure("'url' must be a string") }
        return try await fetcher.fetch(url, deadline: .seconds(10))
    }
}
