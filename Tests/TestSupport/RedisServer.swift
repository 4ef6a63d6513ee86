import Foundation
import RedisClient

/// A real redis-server on a free port, for one test. Stopped by `stop()` (or when released).
public final class RedisServer: @unchecked Sendable {
    public let port: Int
    public let directory: URL
    private var process: ChildProcess?
    private let appendOnly: Bool

    public var url: String { "redis://127.0.0.1:\(port)" }

    /// Starts redis-server; fails with a message naming the package when it is not installed.
    public init(appendOnly: Bool = false) async throws {
        port = try freePort()
        directory = FileManager.default.temporaryDirectory.appendingPathComponent("confab-redis-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        self.appendOnly = appendOnly
        try await start()
    }

    /// Starts (or restarts, on the same port and data) the server and waits until it answers.
    public func start() async throws {
        guard let binary = which("redis-server") else {
            throw TestSupportError("redis-server is not installed: run `apt-get install -y redis-server` (scripts/test.sh does)")
        }
        process = try ChildProcess(binary, [
            "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--dir", directory.path,
            "--appendonly", appendOnly ? "yes" : "no", "--appendfsync", "everysec",
        ])
        let client = RedisClient(configuration: RedisConfiguration(port: port, poolSize: 1, connectTimeoutSeconds: 0.2))
        defer { Task { await client.shutdown() } }
        for _ in 0..<100 {
            if (try? await client.ping()) != nil { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSupportError("redis-server did not start on port \(port)")
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    public func kill() {
        process?.killNow()
        process = nil
    }

    public func stop() {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }

    /// A client for the test's own checks.
    public func client() -> RedisClient {
        RedisClient(configuration: RedisConfiguration(port: port, poolSize: 1))
    }
}

public struct TestSupportError: Error, CustomStringConvertible {
    public let description: String
    public init(_ description: String) { self.description = description }
}

func which(_ name: String) -> String? {
    let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin") + ":/usr/sbin:/usr/local/bin"
    return paths.split(separator: ":").map { "\($0)/\(name)" }.first { FileManager.default.isExecutableFile(atPath: $0) }
}

/// A TCP port nobody listens on right now.
public func freePort() throws -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    let bound = withUnsafeMutablePointer(to: &address) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer -> Int32 in
            guard bind(fd, pointer, length) == 0 else { return -1 }
            return getsockname(fd, pointer, &length)
        }
    }
    guard bound == 0 else { throw TestSupportError("no free port") }
    return Int(UInt16(bigEndian: address.sin_port))
}

