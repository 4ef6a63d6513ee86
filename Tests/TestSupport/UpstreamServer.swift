import Foundation
import Hummingbird
import Logging
import NIOCore
import TestUpstream

/// The test upstream running in-process on a free port, for as long as `run` lasts.
public enum UpstreamServer {
    public static func run<T: Sendable>(options: TestUpstream.Options = .init(),
                                        _ body: (_ baseURL: String, _ upstream: TestUpstream) async throws -> T) async throws -> T {
        let upstream = TestUpstream(options: options)
        let server = try await upstream.serve()
        do {
            let result = try await body("http://127.0.0.1:\(server.port)/v1", upstream)
            try await server.close()
            return result
        } catch {
            try? await server.close()
            throw error
        }
    }
}

/// Runs a Hummingbird application on a free port while `body` runs, then stops it.
public func withRunningServer<T: Sendable>(router: Router<BasicRequestContext>,
                                           _ body: (_ port: Int) async throws -> T) async throws -> T {
    let (ports, portSink) = AsyncStream<Int>.makeStream()
    var quiet = Logger(label: "test-server")
    quiet.logLevel = .critical  // stopping by cancellation logs errors that mean nothing here
    let app = Application(router: router, configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                          onServerRunning: { channel in portSink.yield(channel.localAddress?.port ?? 0) }, logger: quiet)
    return try await withRunningApplication(app, ports: ports, body)
}

/// Runs an application while `body` runs; `ports` yields the port once it listens.
public func withRunningApplication<T: Sendable>(_ app: some ApplicationProtocol, ports: AsyncStream<Int>,
                                                _ body: (_ port: Int) async throws -> T) async throws -> T {
    try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { try await app.runService(gracefulShutdownSignals: []) }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw TestSupportError("the server did not start") }
        defer { group.cancelAll() }
        return try await body(port)
    }
}

extension TestUpstream.Stats {
    /// Waits until no request is open, up to `timeout` (the upstream notices a closed client
    /// within ~50 ms; a loaded machine takes longer). Returns false if requests are still open.
    public func becomesIdle(within timeout: Duration = .seconds(5)) async -> Bool {
        let deadline = ContinuousClock.now + timeout
        while active > 0 {
            if ContinuousClock.now >= deadline { return false }
            try? await Task.sleep(for: .milliseconds(10))
        }
        return true
    }
}
