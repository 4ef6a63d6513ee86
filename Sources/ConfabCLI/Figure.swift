extension Double {
    /// A figure for people: at most one decimal, none when it is whole (`3`, `12.5`).
    var figure: String {
        let rounded = (self * 10).rounded() / 10
        return rounded == rounded.rounded() ? String(Int(rounded)) : String(rounded)
    }
}
