import Testing
import NIOCore
@testable import RedisClient

@Test func encodeDebug() throws {
    var buffer = ByteBuffer()
    try HiredisCodec.encode([Array("PING".utf8)], into: &buffer)
    print("ENC1", String(buffer: buffer).debugDescription)
    buffer.clear()
    try HiredisCodec.encode(RedisCommand("SET", "a", "bc").arguments, into: &buffer)
    print("ENC2", String(buffer: buffer).debugDescription)
}
