// swift-tools-version:6.2
import PackageDescription

let package = Package(
    name: "Confab",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "confab", targets: ["confab"]),
        .executable(name: "confab-test-upstream", targets: ["confab-test-upstream"]),
        .executable(name: "confab-bench", targets: ["confab-bench"]),
        .library(name: "ConfabClient", targets: ["ConfabClient"]),
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1", traits: ["FullFoundation"]),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-http-types", from: "1.8.0"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth", from: "2.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket", from: "2.8.1"),
        .package(url: "https://github.com/vapor/jwt-kit", from: "5.7.1"),
        .package(url: "https://github.com/apple/swift-crypto", "4.1.0"..<"6.0.0"),
    ],
    targets: [
        // hiredis, used only as the RESP codec; all I/O is SwiftNIO's.
        .systemLibrary(name: "CHiredis", pkgConfig: "hiredis", providers: [.apt(["libhiredis-dev"])]),
        .target(name: "RedisClient", dependencies: [
            "CHiredis",
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
        ]),
        // Server-Sent Events at the byte level: Confab reads the model's stream with it, and
        // ConfabClient reads Confab's.
        .target(name: "ServerSentEvents"),
        .target(name: "ConfabCore", dependencies: [
            "RedisClient", "ServerSentEvents",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "CoreMetrics", package: "swift-metrics"),
        ]),
        .target(name: "ConfabServer", dependencies: [
            "ConfabCore", "RedisClient",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            .product(name: "Prometheus", package: "swift-prometheus"),
            .product(name: "HummingbirdAuth", package: "hummingbird-auth"),
            .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
            .product(name: "HummingbirdWSCompression", package: "hummingbird-websocket"),
            .product(name: "NIOWebSocket", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
            .product(name: "JWTKit", package: "jwt-kit"),
            .product(name: "Crypto", package: "swift-crypto"),
        ]),
        .executableTarget(name: "confab", dependencies: [
            "ConfabServer", "ConfabCore", "ConfabCLI",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "Logging", package: "swift-log"),
        ]),
        // A model server speaking the OpenAI streaming wire format, with fault modes;
        // used by the tests, the browser check and the benchmark.
        .target(name: "TestUpstream", dependencies: [
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        .executableTarget(name: "confab-test-upstream", dependencies: [
            "TestUpstream",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        // The load generator of `make bench` (scripts/bench.sh, docs/PERFORMANCE.md).
        .executableTarget(name: "confab-bench", dependencies: [
            "RedisClient",
            .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOPosix", package: "swift-nio"),
            .product(name: "NIOHTTP1", package: "swift-nio"),
        ]),
        // Confab's own client library: the HTTP API, typed, over AsyncHTTPClient, and `/chat/ws`
        // over HummingbirdWSClient (a WebSocket client only: no Hummingbird server in it);
        // independent of the server's modules so that other programs can use it without Redis.
        .target(name: "ConfabClient", dependencies: [
            "ServerSentEvents",
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
            .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
            .product(name: "HTTPTypes", package: "swift-http-types"),
            .product(name: "Logging", package: "swift-log"),
            .product(name: "NIOConcurrencyHelpers", package: "swift-nio"),
            .product(name: "NIOCore", package: "swift-nio"),
            .product(name: "NIOFoundationCompat", package: "swift-nio"),
        ]),
        // The client subcommands of `confab` (chat, sessions, agents, keys, cleanup, integration).
        .target(name: "ConfabCLI", dependencies: [
            "ConfabClient",
            .product(name: "ArgumentParser", package: "swift-argument-parser"),
        ]),
        .target(name: "TestSupport", dependencies: [
            "RedisClient", "TestUpstream",
            .product(name: "Hummingbird", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ], path: "Tests/TestSupport"),
        .testTarget(name: "RedisClientTests", dependencies: ["RedisClient", "TestSupport"]),
        .testTarget(name: "ServerSentEventsTests", dependencies: ["ServerSentEvents"]),
        .testTarget(name: "ConfabCoreTests", dependencies: ["ConfabCore", "TestSupport"]),
        .testTarget(name: "ConfabClientTests", dependencies: ["ConfabClient"]),
        .testTarget(name: "ConfabCLITests", dependencies: ["ConfabCLI", "ConfabClient"]),
        .testTarget(name: "ConfabServerTests", dependencies: [
            "ConfabServer", "TestSupport",
            .product(name: "HummingbirdTesting", package: "hummingbird"),
            .product(name: "AsyncHTTPClient", package: "async-http-client"),
        ]),
    ],
    swiftLanguageModes: [.v6]
)
