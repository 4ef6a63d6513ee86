/// One event of a `text/event-stream`, as the WHATWG EventSource algorithm dispatches it.
public struct ServerSentEvent: Sendable, Equatable {
    /// `event:`; "message" when the stream gives none.
    public var type: String
    /// The `data:` lines, joined by line feeds.
    public var data: String
    /// The last `id:` seen so far in the stream, if any.
    public var lastEventID: String?
    /// `retry:` in milliseconds, when this event carried one.
    public var retry: Int?

    public init(type: String = "message", data: String, lastEventID: String? = nil, retry: Int? = nil) {
        self.type = type
        self.data = data
        self.lastEventID = lastEventID
        self.retry = retry
    }
}

/// Turns the bytes of a `text/event-stream` into events, whatever the chunks: an event, a line,
/// even a CRLF pair or a UTF-8 sequence may be split across reads. Lines end with CR, LF or CRLF;
/// lines starting with `:` are comments (keep-alives) and are skipped; an event ends at a blank
/// line; a last event without one is dropped at the end of the stream, as EventSource does.
public struct ServerSentEventParser: Sendable {
    @usableFromInline var line: [UInt8] = []
    /// A CR ended the last line: a LF right after it (maybe in the next chunk) is the same break.
    @usableFromInline var afterCR = false
    private var data: [UInt8] = []
    private var hasData = false
    private var type: String?
    private var lastEventID: String?
    private var retry: Int?

    public init() {}

    /// Feeds the next bytes; answers the events they complete, in order. Inlinable: it runs per
    /// byte of every token, and a generic call across modules would not be specialized.
    @inlinable
    public mutating func feed(_ bytes: some Sequence<UInt8>) -> [ServerSentEvent] {
        if let events = bytes.withContiguousStorageIfAvailable({ feed(contiguous: $0) }) { return events }
        var events: [ServerSentEvent] = []
        for byte in bytes {
            switch byte {
            case UInt8(ascii: "\n") where afterCR:
                afterCR = false
            case UInt8(ascii: "\r"), UInt8(ascii: "\n"):
                afterCR = byte == UInt8(ascii: "\r")
                if let event = endLine() { events.append(event) }
            default:
                afterCR = false
                line.append(byte)
            }
        }
        return events
    }

    /// The same for bytes in one piece of memory (a network read): each line is found by a scan
    /// and copied once, not appended byte by byte.
    @inlinable
    mutating func feed(contiguous bytes: UnsafeBufferPointer<UInt8>) -> [ServerSentEvent] {
        var events: [ServerSentEvent] = []
        var index = 0
        while index < bytes.count {
            if afterCR, bytes[index] == UInt8(ascii: "\n") {
                afterCR = false
                index += 1
                continue
            }
            afterCR = false
            var end = index
            while end < bytes.count, bytes[end] != UInt8(ascii: "\n"), bytes[end] != UInt8(ascii: "\r") { end += 1 }
            line.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[index..<end]))
            guard end < bytes.count else { break }  // the line goes on in the next read
            afterCR = bytes[end] == UInt8(ascii: "\r")
            if let event = endLine() { events.append(event) }
            index = end + 1
        }
        return events
    }

    /// Handles a whole line; answers an event when the line was the blank one that ends it.
    @usableFromInline
    mutating func endLine() -> ServerSentEvent? {
        defer { line.removeAll(keepingCapacity: true) }
        guard !line.isEmpty else { return dispatch() }
        if line[0] == UInt8(ascii: ":") { return nil }
        let colon = line.firstIndex(of: UInt8(ascii: ":"))
        let name = String(decoding: line[..<(colon ?? line.endIndex)], as: UTF8.self)
        var valueStart = colon.map { line.index(after: $0) } ?? line.endIndex
        // One space after the colon belongs to the syntax, not the value.
        if valueStart < line.endIndex, line[valueStart] == UInt8(ascii: " ") { valueStart += 1 }
        let value = line[valueStart...]
        switch name {
        case "data":
            if hasData { data.append(UInt8(ascii: "\n")) }
            data.append(contentsOf: value)
            hasData = true
        case "event":
            type = String(decoding: value, as: UTF8.self)
        case "id" where !value.contains(0):
            lastEventID = String(decoding: value, as: UTF8.self)
        case "retry":
            retry = Int(String(decoding: value, as: UTF8.self))
        default:
            break  // Unknown fields are ignored, as the standard says.
        }
        return nil
    }

    /// Ends the current event; one without data is no event (only its id is kept).
    private mutating func dispatch() -> ServerSentEvent? {
        defer {
            data.removeAll(keepingCapacity: true)
            hasData = false
            type = nil
            retry = nil
        }
        guard hasData else { return nil }
        return ServerSentEvent(type: type ?? "message", data: String(decoding: data, as: UTF8.self),
                               lastEventID: lastEventID, retry: retry)
    }
}
