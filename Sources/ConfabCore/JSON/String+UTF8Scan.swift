extension String {
    /// `count` without grapheme breaking when the text is ASCII, as nearly every prompt is: the
    /// whole history window is counted at every turn (grapheme counting was ~1% of a turn).
    /// CR LF is one character of two bytes, the one such pair in ASCII: text with a CR is counted.
    var characterCount: Int {
        everyUTF8Byte { $0 < 0x80 && $0 != UInt8(ascii: "\r") } ? utf8.count : count
    }

    /// Whether every UTF-8 byte passes `test`, scanned as raw memory when the string is native
    /// (`utf8.allSatisfy` walks the view's indices, several times slower on these hot paths).
    @inline(__always)
    func everyUTF8Byte(_ test: (UInt8) -> Bool) -> Bool {
        if let answer = utf8.withContiguousStorageIfAvailable({ bytes in
            for byte in bytes where !test(byte) { return false }
            return true
        }) {
            return answer
        }
        return utf8.allSatisfy(test)
    }
}
