import Foundation

/// A plain TCP connection to 127.0.0.1, for clients no HTTP library would be: one that sends
/// half a request and stalls.
public final class RawConnection: @unchecked Sendable {
    private let fd: Int32

    public init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw TestSupportError("connect to port \(port) failed: errno \(errno)") }
    }

    deinit { close(fd) }

    public func send(_ text: String) throws {
        let bytes = Array(text.utf8)
        guard write(fd, bytes, bytes.count) == bytes.count else { throw TestSupportError("write failed: errno \(errno)") }
    }

    /// What the server sends until it closes the connection, or until `seconds` pass.
    public func readUntilClosed(seconds: Double) async -> String {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        var received: [UInt8] = []
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while ContinuousClock.now < deadline {
            if poll(&poller, 1, 0) > 0 {
                var buffer = [UInt8](repeating: 0, count: 4096)
                let count = read(fd, &buffer, buffer.count)
                if count <= 0 { break }
                received += buffer.prefix(count)
            } else {
                try? await Task.sleep(for: .milliseconds(10))
            }
        }
        return String(decoding: received, as: UTF8.self)
    }

    /// Whether the server closes the connection (a read returns end of file or an error) within
    /// `seconds`. Polls without blocking, so it holds no thread of Swift's small pool.
    public func waitForClose(seconds: Double) async -> Bool {
        var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        let deadline = ContinuousClock.now + .milliseconds(Int64(seconds * 1000))
        while ContinuousClock.now < deadline {
            if poll(&poller, 1, 0) > 0 {
                var buffer = [UInt8](repeating: 0, count: 4096)
                if read(fd, &buffer, buffer.count) <= 0 { return true }
            }
            try? await Task.sleep(for: .milliseconds(20))
        }
        return false
    }
}
