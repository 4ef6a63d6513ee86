/// Runs `work` on every element with at most `limit` running at once, and answers the results
/// in the elements' order. The integration runner registers users this way: each registration
/// costs the server a bcrypt hash, and a burst would only queue on its thread pool.
func boundedMap<Element: Sendable, Value: Sendable>(_ elements: [Element], limit: Int,
                                                    _ work: @escaping @Sendable (Element) async -> Value) async -> [Value] {
    await withTaskGroup(of: (Int, Value).self) { group in
        var results = [Value?](repeating: nil, count: elements.count)
        var next = 0
        func startNext() {
            guard next < elements.count else { return }
            let index = next
            next += 1
            group.addTask { (index, await work(elements[index])) }
        }
        for _ in 0..<max(1, limit) { startNext() }
        while let (index, value) = await group.next() {
            results[index] = value
            startNext()
        }
        return results.map { $0! }
    }
}
