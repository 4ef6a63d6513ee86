import ServerSentEvents
import Testing

/// The parser both ends use: Confab reading the model's stream, ConfabClient reading Confab's.
@Suite struct ServerSentEventParserTests {
    let stream = Array(": keep-alive\r\ndata: {\"a\":\"é😀\"}\r\n\r\nevent: x\ndata: line1\ndata: line2\nid: 7\n\n\rdata:nospace\r\rretry: 10\ndata: [DONE]\n\n".utf8)
    let expected = [
        ServerSentEvent(data: "{\"a\":\"é😀\"}"),
        ServerSentEvent(type: "x", data: "line1\nline2", lastEventID: "7"),
        ServerSentEvent(data: "nospace", lastEventID: "7"),
        ServerSentEvent(data: "[DONE]", lastEventID: "7", retry: 10),
    ]

    @Test func decodesWholeStream() {
        var decoder = ServerSentEventParser()
        #expect(decoder.feed(stream) == expected)
    }

    @Test(arguments: [1, 2, 3, 5, 7])
    func decodesTheSameWhenSplitAnywhere(chunkSize: Int) {
        var decoder = ServerSentEventParser()
        var events: [ServerSentEvent] = []
        for start in stride(from: 0, to: stream.count, by: chunkSize) {
            events += decoder.feed(stream[start..<min(start + chunkSize, stream.count)])
        }
        #expect(events == expected)
    }

    /// Bytes that are not in one piece of memory take the byte-by-byte path: the same events.
    @Test(arguments: [1, 4, 1000])
    func decodesTheSameFromAnySequence(chunkSize: Int) {
        var decoder = ServerSentEventParser()
        var events: [ServerSentEvent] = []
        for start in stride(from: 0, to: stream.count, by: chunkSize) {
            events += decoder.feed(stream[start..<min(start + chunkSize, stream.count)].lazy.map { $0 })
        }
        #expect(events == expected)
    }

    @Test func ignoresCommentsAndEventsWithoutData() {
        var decoder = ServerSentEventParser()
        #expect(decoder.feed(Array(": OPENROUTER PROCESSING\n\nevent: ping\n\n".utf8)).isEmpty)
    }

    @Test func holdsAnUnfinishedEvent() {
        var decoder = ServerSentEventParser()
        #expect(decoder.feed(Array("data: partial".utf8)).isEmpty)
        #expect(decoder.feed(Array("\n\n".utf8)) == [ServerSentEvent(data: "partial")])
    }
}
