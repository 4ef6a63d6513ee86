import CoreMetrics

/// The turn figures an operator scrapes: how turns end, how fast the first token comes, how
/// long turns last, how many stream now, how the model fails, and how many tokens were relayed.
public struct TurnMetrics: Sendable {
    /// The four endings, as the `ending` label of `confab_turns_total`.
    public enum Ending: String, Sendable, CaseIterable {
        case complete, error, partial, shutdown
    }

    private let factory: any MetricsFactory
    private let turns: [Ending: Counter]
    let firstToken: Timer
    let duration: Timer
    let activeStreams: Meter
    let tokens: Counter

    public init(factory: any MetricsFactory = MetricsSystem.factory) {
        self.factory = factory
        turns = Dictionary(uniqueKeysWithValues: Ending.allCases.map {
            ($0, Counter(label: "confab_turns_total", dimensions: [("ending", $0.rawValue)], factory: factory))
        })
        firstToken = Timer(label: "confab_first_token_seconds", factory: factory)
        duration = Timer(label: "confab_turn_duration_seconds", factory: factory)
        activeStreams = Meter(label: "confab_active_streams", factory: factory)
        tokens = Counter(label: "confab_tokens_relayed_total", factory: factory)
    }

    func ended(_ ending: Ending) { turns[ending]?.increment() }

    /// `kind` is the error code the client sees, e.g. `upstream_http_429` or `upstream_timeout_idle`.
    func upstreamError(kind: String) {
        Counter(label: "confab_upstream_errors_total", dimensions: [("kind", kind)], factory: factory).increment()
    }
}
