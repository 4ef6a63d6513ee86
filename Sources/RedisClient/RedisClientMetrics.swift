import CoreMetrics

/// What an operator watches on the Redis connection: round trips, round trips that failed
/// (no connection, or it broke; error replies are answers, not failures), and reconnects.
public struct RedisClientMetrics: Sendable {
    let roundTrips: Counter
    let errors: Counter
    let reconnects: Counter

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        roundTrips = Counter(label: "confab_redis_round_trips_total", factory: factory)
        errors = Counter(label: "confab_redis_errors_total", factory: factory)
        reconnects = Counter(label: "confab_redis_reconnects_total", factory: factory)
    }
}
