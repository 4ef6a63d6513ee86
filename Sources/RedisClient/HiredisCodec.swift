import CHiredis
import NIOCore

/// The only place that touches hiredis: RESP encoding of commands and an incremental
/// reply reader. Both are confined to one channel's event loop by `RedisChannelHandler`.
enum HiredisCodec {
    /// Appends one command, binary safe, to `buffer` in RESP form.
    static func encode(_ arguments: [[UInt8]], into buffer: inout ByteBuffer) throws {
        // One contiguous copy of the arguments, so every argv pointer stays valid for the call.
        var flat: [UInt8] = []
        flat.reserveCapacity(arguments.reduce(1) { $0 + $1.count })
        var offsets: [Int] = []
        for argument in arguments {
            offsets.append(flat.count)
            flat.append(contentsOf: argument)
        }
        flat.append(0)
        var lengths = arguments.map(\.count)
        var target: UnsafeMutablePointer<CChar>?
        let length = flat.withUnsafeBytes { raw -> Int32 in
            let base = raw.baseAddress!.assumingMemoryBound(to: CChar.self)
            var argv: [UnsafePointer<CChar>?] = offsets.map { UnsafePointer(base + $0) }
            return redisFormatCommandArgv(&target, Int32(arguments.count), &argv, &lengths)
        }
        guard length >= 0, let target else { throw RedisError.protocolError("could not encode command") }
        defer { redisFreeCommand(target) }
        buffer.writeBytes(UnsafeRawBufferPointer(start: target, count: Int(length)))
    }

    /// Feeds bytes in, hands complete replies out. Not thread-safe: owned by one handler.
    final class Reader {
        private let reader: UnsafeMutablePointer<redisReader>

        init() {
            reader = redisReaderCreate()
            reader.pointee.maxbuf = 0  // keep hiredis from shrinking and regrowing its buffer
        }

        deinit { redisReaderFree(reader) }

        func feed(_ buffer: ByteBuffer) {
            buffer.withUnsafeReadableBytes { bytes in
                _ = redisReaderFeed(reader, bytes.baseAddress?.assumingMemoryBound(to: CChar.self), bytes.count)
            }
        }

        /// The next complete reply, or nil when more bytes are needed.
        func next() throws -> RedisValue? {
            var reply: UnsafeMutableRawPointer?
            guard redisReaderGetReply(reader, &reply) == REDIS_OK else {
                let message = withUnsafeBytes(of: reader.pointee.errstr) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
                throw RedisError.protocolError(message)
            }
            guard let reply else { return nil }
            defer { freeReplyObject(reply) }
            return Self.copy(reply.assumingMemoryBound(to: redisReply.self))
        }

        private static func copy(_ reply: UnsafeMutablePointer<redisReply>) -> RedisValue {
            let r = reply.pointee
            func bytes() -> [UInt8] {
                guard let str = r.str else { return [] }
                return Array(UnsafeRawBufferPointer(start: str, count: r.len))
            }
            switch r.type {
            case REDIS_REPLY_STRING: return .bulk(bytes())
            case REDIS_REPLY_STATUS: return .simple(String(decoding: bytes(), as: UTF8.self))
            case REDIS_REPLY_ERROR: return .error(String(decoding: bytes(), as: UTF8.self))
            case REDIS_REPLY_INTEGER: return .integer(Int(r.integer))
            case REDIS_REPLY_ARRAY:
                return .array((0..<r.elements).map { copy(r.element[$0]!) })
            default: return .null
            }
        }
    }
}
