import Foundation

/// Where the report goes and how: the JSON file, and the HTML page beside it.
extension IntegrationReport {
    /// The JSON file for `--report`: the default name `integration-report-<test id>.json` in the
    /// current folder, or in the folder given, or the file given.
    static func path(_ given: String?, testID: String) -> String {
        let name = "integration-report-\(testID).json"
        var isFolder: ObjCBool = false
        guard let given else { return name }
        guard FileManager.default.fileExists(atPath: given, isDirectory: &isFolder), isFolder.boolValue else { return given }
        return URL(fileURLWithPath: given).appendingPathComponent(name).path
    }

    /// Where the HTML page goes: beside the JSON, `.html` for `.json`.
    static func htmlPath(for jsonPath: String) -> String {
        (jsonPath.hasSuffix(".json") ? String(jsonPath.dropLast(5)) : jsonPath) + ".html"
    }

    /// Writes the JSON to `path` and the page beside it; answers the JSON.
    func write(to path: String) throws -> Data {
        let json = try json()
        try json.write(to: URL(fileURLWithPath: path))
        try Data(html().utf8).write(to: URL(fileURLWithPath: Self.htmlPath(for: path)))
        return json
    }

    /// The report as its file holds it: pretty, sorted, snake_case keys; fields without a value
    /// (a failed turn's latencies, a successful turn's `failure`) are left out.
    func json() throws -> Data {
        let encoder = JSONEncoder()
        encoder.keyEncodingStrategy = .convertToSnakeCase
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}
