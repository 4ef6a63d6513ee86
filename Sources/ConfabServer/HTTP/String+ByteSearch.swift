extension String {
    /// Whether `needle`'s bytes occur in this string's UTF-8: a plain byte search, where
    /// Foundation's and the standard library's generic ones cost thousands of instructions.
    func containsBytes(_ needle: StaticString) -> Bool {
        var haystack = self
        let wanted = UnsafeBufferPointer(start: needle.utf8Start, count: needle.utf8CodeUnitCount)
        return haystack.withUTF8 { bytes in
            guard !wanted.isEmpty else { return true }
            guard wanted.count <= bytes.count else { return false }
            return (0...(bytes.count - wanted.count)).contains { start in
                (0..<wanted.count).allSatisfy { bytes[start + $0] == wanted[$0] }
            }
        }
    }
}
