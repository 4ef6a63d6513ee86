import Foundation
import RedisClient

/// A real redis-server on a free port, for one test. Stopped by `stop()` (or when released).
public final class RedisServer: @unchecked Sendable {
    public private(set) var port: Int
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
        // Another test may take the port between picking and binding: then pick again.
        for attempt in 1...3 {
            do {
                try await start()
                break
            } catch where attempt < 3 {
                kill()
                port = try freePort()
            }
        }
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
            guard process?.isRunning == true else { break }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSupportError("redis-server did not start on port \(port)")
    }

    /// Kills the server at once (SIGKILL), as a crash would.
    public func kill() {
        process?.killNow()
        process = nil
    }

    /// Freezes the server (SIGSTOP): its connections stay open and nothing answers, as with a
    /// stalled server or a network partition. `resume` lets it go on.
    public func pause() { process?.signal(SIGSTOP) }
    public func resume() { process?.signal(SIGCONT) }

    public func stop() {
        kill()
        try? FileManager.default.removeItem(at: directory)
    }

    deinit { stop() }

    /// A client for the test's own checks.
    public func client() -> RedisClient {
        // A generous deadline: a test's own checks must not fail because a loaded machine is slow.
        RedisClient(configuration: RedisConfiguration(port: port, poolSize: 1, commandTimeoutSeconds: 20))
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

/// A TCP port nobody listens on right now. Picked below Linux's ephemeral range
/// (32768-60999), so outgoing connections made meanwhile cannot take it.
public func freePort() throws -> Int {
    for _ in 0..<200 {
        let port = Int.random(in: 20_000..<32_000)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if bound == 0 { return port }
    }
    throw TestSupportError("no free port")
}
