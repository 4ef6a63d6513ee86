import NIOConcurrencyHelpers
import NIOCore
import NIOPosix

/// One connection of the pool. Connects on first use and again after the connection drops,
/// so the client heals by itself after a Redis restart. Concurrent callers share one attempt.
final class RedisConnectionSlot: Sendable {
    private enum State {
        case idle
        case connecting(EventLoopFuture<Channel>)
        case connected(Channel)
    }

    private let configuration: RedisConfiguration
    private let eventLoop: EventLoop
    private let state = NIOLockedValueBox(State.idle)
    private let everConnected = NIOLockedValueBox(false)
    private let onReconnect: @Sendable () -> Void

    init(configuration: RedisConfiguration, eventLoop: EventLoop, onReconnect: @escaping @Sendable () -> Void) {
        self.configuration = configuration
        self.eventLoop = eventLoop
        self.onReconnect = onReconnect
    }

    /// A live channel, connecting first if needed.
    func channel() -> EventLoopFuture<Channel> {
        let (future, started) = state.withLockedValue { state -> (EventLoopFuture<Channel>, Bool) in
            switch state {
            case .connected(let channel) where channel.isActive:
                return (eventLoop.makeSucceededFuture(channel), false)
            case .connecting(let future):
                return (future, false)
            case .idle, .connected:
                let future = connect()
                state = .connecting(future)
                return (future, true)
            }
        }
        // Outside the lock: the callback may run at once, on this thread.
        if started {
            future.whenComplete { [self] result in
                self.state.withLockedValue { state in
                    guard case .connecting(let pending) = state, pending === future else { return }
                    state = (try? result.get()).map(State.connected) ?? .idle
                }
                guard (try? result.get()) != nil else { return }
                let again = everConnected.withLockedValue { connected in
                    defer { connected = true }
                    return connected
                }
                if again { onReconnect() }
            }
        }
        return future
    }

    func close() async {
        let channel: Channel? = state.withLockedValue { state in
            defer { state = .idle }
            if case .connected(let channel) = state { return channel }
            return nil
        }
        try? await channel?.close()
    }

    private func connect() -> EventLoopFuture<Channel> {
        let configuration = self.configuration
        return ClientBootstrap(group: eventLoop)
            .connectTimeout(.milliseconds(Int64(configuration.connectTimeoutSeconds * 1000)))
            .channelOption(.socketOption(.tcp_nodelay), value: 1)
            .channelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.addHandler(RedisChannelHandler())
                }
            }
            .connect(host: configuration.host, port: configuration.port)
            .flatMapError { error in
                self.eventLoop.makeFailedFuture(RedisError.connectionFailed("\(configuration.host):\(configuration.port): \(error)"))
            }
            .flatMap { channel in
                var setup: [RedisCommand] = []
                if let password = configuration.password { setup.append(RedisCommand("AUTH", password)) }
                if configuration.database != 0 { setup.append(RedisCommand("SELECT", configuration.database)) }
                guard !setup.isEmpty else { return channel.eventLoop.makeSucceededFuture(channel) }
                let reply = channel.eventLoop.makePromise(of: [RedisValue].self)
                let deadline = NIODeadline.now() + .nanoseconds(Int64(configuration.commandTimeoutSeconds * 1e9))
                channel.writeAndFlush(RedisRequest(commands: setup, reply: reply, deadline: deadline), promise: nil)
                return reply.futureResult.flatMapThrowing { values in
                    for value in values { try value.check() }
                    return channel
                }.flatMapErrorWithEventLoop { error, loop in
                    channel.close(promise: nil)
                    return loop.makeFailedFuture(error)
                }
            }
    }
}
