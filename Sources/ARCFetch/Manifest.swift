// `arc-data/<source>/manifest.json`: what was fetched (url, sha256, bytes, time) and what it
// holds (task and test-input counts per split).
import ARCCore
import Foundation

public struct FetchManifest: Sendable, Equatable {
    public struct SplitCount: Sendable, Equatable {
        public var name: String
        public var tasks: Int
        public var testInputs: Int
        public var withSolutions: Bool
    }

    public var source: String
    public var url: String
    public var sha256: String
    public var bytes: Int64
    public var fetchedAt: String
    public var splits: [SplitCount]

    public static let fileName = "manifest.json"

    public var jsonText: String {
        let q = JSONWriter.quoted
        let splitText = splits.map {
            "    {\"name\": \(q($0.name)), \"tasks\": \($0.tasks), \"test_inputs\": \($0.testInputs), \"with_solutions\": \($0.withSolutions)}"
        }.joined(separator: ",\n")
        return """
        {
          "source": \(q(source)),
          "url": \(q(url)),
          "sha256": \(q(sha256)),
          "bytes": \(bytes),
          "fetched_at": \(q(fetchedAt)),
          "splits": [
        \(splitText)
          ]
        }

        """
    }

    public static func read(_ url: URL) throws -> FetchManifest {
        let data = try Data(contentsOf: url)
        let json = try JSONParser.parse(data)
        func str(_ k: String) throws -> String {
            guard case let .string(s)? = json[k] else { throw ARCDataError(file: url.path, field: k, message: "missing or not a string") }
            return s
        }
        guard case let .int(bytes)? = json["bytes"] else { throw ARCDataError(file: url.path, field: "bytes", message: "missing or not an integer") }
        guard case let .array(items)? = json["splits"] else { throw ARCDataError(file: url.path, field: "splits", message: "missing or not an array") }
        var splits = [SplitCount]()
        for (i, item) in items.enumerated() {
            guard case let .string(n)? = item["name"], case let .int(t)? = item["tasks"], case let .int(ti)? = item["test_inputs"] else {
                throw ARCDataError(file: url.path, field: "splits[\(i)]", message: "needs name, tasks, test_inputs")
            }
            var sol = false
            if case let .bool(b)? = item["with_solutions"] { sol = b }
            splits.append(SplitCount(name: n, tasks: t, testInputs: ti, withSolutions: sol))
        }
        return FetchManifest(source: try str("source"), url: try str("url"), sha256: try str("sha256"), bytes: Int64(bytes),
                             fetchedAt: try str("fetched_at"), splits: splits)
    }
}
