import Foundation

/// An HTTP/1.1 response read from a `RawConnection` as it arrives: the status and headers, then
/// the body (chunked or not) piece by piece, so a test can stop reading and leave mid-body.
public struct RawHTTPResponse {
    public private(set) var status = 0
    public private(set) var headers: [String: String] = [:]
    private let connection: RawConnection
    private var pending: [UInt8] = []
    private var chunked = false
    private var chunkLeft = 0
    private var finished = false

    /// Sends `method path` (with `body` as JSON) and reads up to the end of the headers.
    public init(connection: RawConnection, method: String, path: String, body: String? = nil, seconds: Double = 30) async throws {
        self.connection = connection
        var request = "\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n"
        if let body { request += "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n" }
        try connection.send(request + "\r\n" + (body ?? ""))
        let end = Array("\r\n\r\n".utf8)
        while true {
            if let range = Self.find(end, in: pending) {
                let head = String(decoding: pending[..<range], as: UTF8.self).components(separatedBy: "\r\n")
                pending.removeFirst(range + end.count)
                status = Int(head.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
                for line in head.dropFirst() {
                    guard let colon = line.firstIndex(of: ":") else { continue }
                    headers[line[..<colon].lowercased()] = line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces)
                }
                chunked = headers["transfer-encoding"]?.lowercased() == "chunked"
                return
            }
            guard let bytes = await connection.receive(seconds: seconds), !bytes.isEmpty else {
                throw TestSupportError("no response head from \(method) \(path)")
            }
            pending += bytes
        }
    }

    /// The next piece of the body; nil at its end (or when the server closed or went silent
    /// for `seconds`).
    public mutating func nextBody(seconds: Double = 30) async -> [UInt8]? {
        while !finished {
            if let piece = takeBody() { return piece }
            guard let bytes = await connection.receive(seconds: seconds), !bytes.isEmpty else { finished = true; break }
            pending += bytes
        }
        return nil
    }

    /// Decoded body bytes already received, if any.
    private mutating func takeBody() -> [UInt8]? {
        guard chunked else {
            defer { pending.removeAll() }
            return pending.isEmpty ? nil : pending
        }
        var out: [UInt8] = []
        while !pending.isEmpty {
            if chunkLeft > 0 {
                let count = min(chunkLeft, pending.count)
                out += pending.prefix(count)
                pending.removeFirst(count)
                chunkLeft -= count
                continue
            }
            guard let lineEnd = Self.find(Array("\r\n".utf8), in: pending) else { break }
            let line = String(decoding: pending[..<lineEnd], as: UTF8.self)
            if line.isEmpty { pending.removeFirst(2); continue }  // the CRLF after a chunk's data
            guard let size = Int(line.split(separator: ";").first ?? "", radix: 16) else { finished = true; break }
            pending.removeFirst(lineEnd + 2)
            if size == 0 { finished = true; break }
            chunkLeft = size
        }
        return out.isEmpty ? nil : out
    }

    private static func find(_ needle: [UInt8], in haystack: [UInt8]) -> Int? {
        guard haystack.count >= needle.count else { return nil }
        for start in 0...(haystack.count - needle.count) where haystack[start..<(start + needle.count)].elementsEqual(needle) {
            return start
        }
        return nil
    }
}
