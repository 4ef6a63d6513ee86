import Foundation

/// A plain TCP connection to 127.0.0.1, for clients no HTTP library would be: one that sends
/// half a request and stalls, or one that leaves mid-reply and closes its socket for real (an
/// HTTP library may keep a connection it stopped reading, so the server never sees it go).
public final class RawConnection: @unchecked Sendable {
    private let fd: Int32
    private var open = true

    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else {
            let error = errno
            leave()  // deinit runs too when a class's init throws: `leave` closes only once
            throw TestSupportError("connect to port \(port) failed: errno \(error)")
        }
    }

    deinit { leave() }

    /// Closes the socket in both directions at once: the server reads end of file.
    public func leave() {
        guard open else { return }
        open = false
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
    }

    public func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        var sent = 0
        while sent < bytes.count {
            let count = bytes[sent...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            guard count > 0 else { throw TestSupportError("write failed: errno \(errno)") }
            sent += count
        }
    }

    /// The next bytes the server sends: empty when it closed the connection, nil when nothing
    /// came within `seconds`. Polls without blocking, so it holds no thread of Swift's small
    /// pool, and looks once more after the deadline (a starved task must not miss what came).
    public func receive(seconds: Double) async -> [UInt8]? {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while true {
            let late = ContinuousClock.now >= deadline
            if poll(&poller, 1, 0) > 0 {
                var buffer = [UInt8](repeating: 0, count: 16 * 1024)
                let count = read(fd, &buffer, buffer.count)
                return count <= 0 ? [] : Array(buffer.prefix(count))
            }
            if late { return nil }
            try? await Task.sleep(for: .milliseconds(5))
        }
    }

    /// What the server sends until it closes the connection, or until `seconds` pass.
    public func readUntilClosed(seconds: Double) async -> String {
        var received: [UInt8] = []
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while ContinuousClock.now < deadline {
            guard let bytes = await receive(seconds: 0.05) else { continue }
            if bytes.isEmpty { break }
            received += bytes
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// Whether the server closes the connection (a read returns end of file or an error) within
    /// `seconds`.
    public func waitForClose(seconds: Double) async -> Bool {
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while true {
            let left = deadline - ContinuousClock.now
            let seconds = max(0, Double(left.components.seconds) + Double(left.components.attoseconds) / 1e18)
            guard let bytes = await receive(seconds: seconds) else { return false }
            if bytes.isEmpty { return true }
        }
    }
}
