// `metrics.jsonl`: one JSON object per logging interval (step, epoch, lr, losses, accuracies,
// mean ACT steps, tokens/s, elapsed seconds), appended and flushed line by line so a crash
// loses at most the line being written.
import ARCCore
import Foundation

public struct MetricsRecord: Sendable, Equatable {
    public var values: [(String, Double)]
    public init(_ values: [(String, Double)]) { self.values = values }

    public static func == (a: MetricsRecord, b: MetricsRecord) -> Bool {
        a.values.count == b.values.count && zip(a.values, b.values).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
    }

    public subscript(key: String) -> Double? { values.first { $0.0 == key }?.1 }

    public var jsonLine: String {
        "{" + values.map { key, value in
            let v: String
            if value.isNaN || value.isInfinite { v = "null" }
            else if value == value.rounded() && abs(value) < 1e15 { v = String(Int64(value)) }
            else { v = "\(value)" }
            return "\"\(key)\": \(v)"
        }.joined(separator: ", ") + "}"
    }
}

public final class MetricsLog {
    public let url: URL
    private let handle: FileHandle

    /// Opens `url` for appending (created when missing). When resuming, lines after
    /// `truncateAfterStep` are dropped so the log matches the checkpoint.
    public init(url: URL, truncateAfterStep: Int? = nil) throws {
        self.url = url
        let fm = FileManager.default
        try fm.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        if let keep = truncateAfterStep, let text = try? String(contentsOf: url, encoding: .utf8) {
            let kept = text.split(separator: "\n").filter { line in
                guard let r = line.range(of: "\"step\": ") else { return false }
                let digits = line[r.upperBound...].prefix { $0.isNumber }
                return (Int(digits) ?? Int.max) <= keep
            }
            try AtomicFile.write(kept.map { $0 + "\n" }.joined(), to: url)
        } else if truncateAfterStep == nil {
            _ = fm.createFile(atPath: url.path, contents: nil)
        }
        if !fm.fileExists(atPath: url.path) { _ = fm.createFile(atPath: url.path, contents: nil) }
        handle = try FileHandle(forWritingTo: url)
        try handle.seekToEnd()
    }

    deinit { try? handle.close() }

    public func append(_ record: MetricsRecord) throws {
        try handle.write(contentsOf: Data((record.jsonLine + "\n").utf8))
    }
}
