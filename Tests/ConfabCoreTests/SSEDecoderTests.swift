import Testing
@testable import ConfabCore

@Suite struct SSEDecoderTests {
    let stream = Array(": keep-alive\r\ndata: {\"a\":\"é😀\"}\r\n\r\nevent: x\ndata: line1\ndata: line2\nid: 7\n\n\rdata:nospace\r\rretry: 10\ndata: [DONE]\n\n".utf8)
    let expected = [
        SSEDecoder.Event(event: nil, data: "{\"a\":\"é😀\"}", id: nil),
        SSEDecoder.Event(event: "x", data: "line1\nline2", id: "7"),
        SSEDecoder.Event(event: nil, data: "nospace", id: "7"),
        SSEDecoder.Event(event: nil, data: "[DONE]", id: "7"),
    ]

    @Test func decodesWholeStream() {
        var decoder = SSEDecoder()
        #expect(decoder.feed(stream) == expected)
    }

    @Test(arguments: [1, 2, 3, 5, 7])
    func decodesTheSameWhenSplitAnywhere(chunkSize: Int) {
        var decoder = SSEDecoder()
        var events: [SSEDecoder.Event] = []
        for start in stride(from: 0, to: stream.count, by: chunkSize) {
            events += decoder.feed(stream[start..<min(start + chunkSize, stream.count)])
        }
        #expect(events == expected)
    }

    @Test func ignoresCommentsAndEventsWithoutData() {
        var decoder = SSEDecoder()
        #expect(decoder.feed(Array(": OPENROUTER PROCESSING\n\nevent: ping\n\n".utf8)).isEmpty)
    }

    @Test func holdsAnUnfinishedEvent() {
        var decoder = SSEDecoder()
        #expect(decoder.feed(Array("data: partial".utf8)).isEmpty)
        #expect(decoder.feed(Array("\n\n".utf8)) == [SSEDecoder.Event(event: nil, data: "partial", id: nil)])
    }
}
