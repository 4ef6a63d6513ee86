import Foundation
import HummingbirdWSClient
import Logging
import NIOCore
import Synchronization

/// Confab's WebSocket door under load: each virtual user registers, opens one socket on
/// `/chat/ws` and sends its turns on it one after another (the first makes its session, the
/// rest continue it), so the figures compare with the HTTP levels. Memory per open socket is
/// read while every socket is open and idle, before the clock starts.
struct SocketWorkload: Sendable {
    let http: StreamingClient

    /// Opens the users' sockets; `measure` then times the run, which starts when it is called.
    func run(users: Int, seconds: Double, tag: String, probe: ProcessProbe,
             measure: (() async -> RunSamples) async throws -> Figures) async throws -> Figures {
        let names = (0..<users).map { "bench-ws-\(tag)-\($0)" }
        var keys: [String] = []
        for batch in stride(from: 0, to: users, by: 64) {
            keys += try await withThrowingTaskGroup(of: (Int, String).self) { group in
                for index in batch..<min(batch + 64, users) { group.addTask { (index, try await Target.register(names[index], http)) } }
                return try await group.reduce(into: []) { $0.append($1) }.sorted { $0.0 < $1.0 }.map(\.1)
            }
        }
        let before = probe.residentKB()
        let gate = StartGate()
        let ready = Tally()
        let run = Task {
            await withTaskGroup(of: RunSamples.self) { group in
                for key in keys { group.addTask { await user(key: key, gate: gate, ready: ready) } }
                return await group.reduce(into: RunSamples()) { total, own in
                    total.firstText += own.firstText
                    total.total += own.total
                    total.errors += own.errors
                }
            }
        }
        let opened = ContinuousClock.now
        while ready.count < users, ContinuousClock.now - opened < .seconds(60) {
            try await Task.sleep(for: .milliseconds(50))
        }
        let open = ready.count
        let perSocketKB = open > 0 ? Double(probe.residentKB() - before) / Double(open) : nil
        var figures = try await measure {
            let start = ContinuousClock.now
            gate.open(until: start + .milliseconds(Int64(seconds * 1000)))
            var samples = await run.value
            samples.errors += users - open
            samples.elapsed = ContinuousClock.now - start
            return samples
        }
        figures.rssPerOpenStreamKB = perSocketKB
        return figures
    }

    /// One virtual user: its socket, then turns until the deadline.
    private func user(key: String, gate: StartGate, ready: Tally) async -> RunSamples {
        let samples = SampleBox()
        let client = WebSocketClient(url: "ws://\(http.host):\(http.port)/chat/ws",
                                     configuration: .init(maxFrameSize: 1 << 20, additionalHeaders: [.authorization: "Bearer \(key)"]),
                                     eventLoopGroup: http.group, logger: Logger(label: "bench-ws")) { inbound, outbound, _ in
            ready.add()
            let deadline = await gate.wait()
            var messages = inbound.messages(maxSize: 1 << 20).makeAsyncIterator()
            var session: String?
            var number = 0
            while ContinuousClock.now < deadline {
                number += 1
                let started = ContinuousClock.now
                let continued = session.map { #","session_id":"\#($0)""# } ?? ""
                try await outbound.write(.text(#"{"type":"chat","request_id":"\#(number)","message":"hello \#(number)"\#(continued)}"#))
                var first: Duration?
                var ended = false
                while !ended, let message = try await messages.next() {
                    guard case .text(let text) = message else { continue }
                    if first == nil, text.contains(#""content""#) {
                        first = .now - started
                    } else if session == nil, text.contains(#""type":"session""#) {
                        session = (try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any])?["session_id"] as? String
                    } else if text.contains(#""type":"finish""#), let first {
                        samples.value.withLock { $0.firstText.append(first); $0.total.append(.now - started) }
                        ended = true
                    } else if text.contains(#""type":"error""#) || text.contains(#""type":"finish""#) {
                        samples.value.withLock { $0.errors += 1 }
                        ended = true
                    }
                }
                if !ended { break }
            }
            try await outbound.close(.normalClosure, reason: nil)
        }
        do {
            try await client.run()
        } catch {
            samples.value.withLock { $0.errors += 1 }
        }
        return samples.value.withLock { $0 }
    }
}

/// Holds the virtual users until every socket is open, then lets them all go with one deadline.
final class StartGate: Sendable {
    private let state = Mutex<(deadline: ContinuousClock.Instant?, waiting: [CheckedContinuation<ContinuousClock.Instant, Never>])>((nil, []))

    func wait() async -> ContinuousClock.Instant {
        await withCheckedContinuation { continuation in
            let deadline = state.withLock { state in
                if state.deadline == nil { state.waiting.append(continuation) }
                return state.deadline
            }
            if let deadline { continuation.resume(returning: deadline) }
        }
    }

    func open(until deadline: ContinuousClock.Instant) {
        let waiting = state.withLock { state in
            state.deadline = deadline
            defer { state.waiting = [] }
            return state.waiting
        }
        waiting.forEach { $0.resume(returning: deadline) }
    }
}

/// Sockets open so far.
final class Tally: Sendable {
    private let value = Atomic<Int>(0)
    var count: Int { value.load(ordering: .relaxed) }
    func add() { value.add(1, ordering: .relaxed) }
}

/// One virtual user's samples, filled in from its socket's handler.
final class SampleBox: Sendable {
    let value = Mutex(RunSamples())
}
