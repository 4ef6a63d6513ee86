import NIOCore
import NIOConcurrencyHelpers
import NIOPosix
import Synchronization

/// An async Redis client: a small pool of multiplexed connections.
///
/// Every call is one write and one wait: `send` for a command, `pipeline` for several,
/// `transaction` for several wrapped in MULTI/EXEC. Calls are spread round-robin over the
/// pool; several callers pipeline on one connection without waiting for each other.
public final class RedisClient: Sendable {
    private let slots: [RedisConnectionSlot]
    private let next = Atomic<Int>(0)
    /// How many times a batch was written to Redis; each is one round trip.
    private let writes = Atomic<Int>(0)
    private let metrics: RedisClientMetrics
    private let commandTimeout: TimeAmount

    public init(configuration: RedisConfiguration, eventLoopGroup: EventLoopGroup = MultiThreadedEventLoopGroup.singleton,
                metrics: RedisClientMetrics = RedisClientMetrics()) {
        self.metrics = metrics
        commandTimeout = .nanoseconds(Int64(configuration.commandTimeoutSeconds * 1e9))
        slots = (0..<max(1, configuration.poolSize)).map { _ in
            RedisConnectionSlot(configuration: configuration, eventLoop: eventLoopGroup.next(),
                                onReconnect: { metrics.reconnects.increment() })
        }
    }

    /// Round trips made since start.
    public var roundTrips: Int { writes.load(ordering: .relaxed) }

    /// Sends one command and returns its reply (an error reply is returned, not thrown).
    public func send(_ command: RedisCommand) async throws -> RedisValue {
        try await pipeline([command])[0]
    }

    /// Sends the commands in one write and returns their replies in order. Throws
    /// `RedisError.timeout` when they are not answered within `timeout` (the configured command
    /// timeout unless given).
    public func pipeline(_ commands: [RedisCommand], timeout: TimeAmount? = nil) async throws -> [RedisValue] {
        precondition(!commands.isEmpty, "a pipeline needs at least one command")
        let slot = slots[next.add(1, ordering: .relaxed).oldValue % slots.count]
        do {
            let channel = try await slot.channel().get()  // connecting has its own timeout
            let deadline = NIODeadline.now() + (timeout ?? commandTimeout)
            let reply = channel.eventLoop.makePromise(of: [RedisValue].self)
            writes.add(1, ordering: .relaxed)
            metrics.roundTrips.increment()
            channel.writeAndFlush(RedisRequest(commands: commands, reply: reply, deadline: deadline)).whenFailure { error in
                reply.fail(RedisError.connectionFailed("\(error)"))
            }
            return try await reply.futureResult.get()
        } catch {
            metrics.errors.increment()
            throw error
        }
    }

    /// Runs the commands atomically with MULTI/EXEC, in one write; returns EXEC's replies.
    public func transaction(_ commands: [RedisCommand]) async throws -> [RedisValue] {
        let replies = try await pipeline([RedisCommand("MULTI")] + commands + [RedisCommand("EXEC")])
        for reply in replies.dropLast() { try reply.check() }
        guard let results = try replies.last?.check().array else {
            throw RedisError.server("transaction aborted")
        }
        return results
    }

    /// Closes every connection.
    public func shutdown() async {
        for slot in slots { await slot.close() }
    }
}
