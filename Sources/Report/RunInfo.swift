// What the report reads from a training run folder (written by `train`): `config.json`, a JSON object
// of hyperparameters shown generically (nested objects as dotted keys, known keys highlighted),
// and `metrics.jsonl`, one JSON object per logging interval ("step", "lm_loss", "exact_accuracy",
// ...; any key may be missing on a line).
import ARCCore
import Foundation

/// The hyperparameters of a run, in file order; the members of nested objects are entries of
/// their own, keyed by their path ("training.model.hiddenSize").
public struct RunConfig: Sendable {
    public var entries: [(key: String, value: JSONValue)]

    /// Values shown first, in this order, when present: a name and the keys that may hold it,
    /// in config.json as `train` writes it (Training's RunConfiguration) and in the earlier flat layout.
    public static let highlighted: [(name: String, keys: [String])] = [
        ("preset", ["preset"]), ("overrides", ["overrides"]), ("dataset", ["dataset"]),
        ("hidden_size", ["training.model.hiddenSize", "hidden_size"]), ("num_heads", ["training.model.numHeads", "num_heads"]),
        ("H_layers", ["training.model.hLayers", "H_layers"]), ("L_layers", ["training.model.lLayers", "L_layers"]),
        ("H_cycles", ["training.model.hCycles", "H_cycles"]), ("L_cycles", ["training.model.lCycles", "L_cycles"]),
        ("halt_max_steps", ["training.model.haltMaxSteps", "halt_max_steps"]), ("batch_size", ["training.trainer.batchSize", "batch_size"]),
        ("lr", ["training.trainer.learningRate", "lr"]), ("puzzle_emb_lr", ["training.trainer.puzzleEmbeddingLearningRate", "puzzle_emb_lr"]),
        ("steps", ["steps"]), ("train_seconds", ["train_seconds"]), ("num_aug", ["num_aug"]), ("seed", ["training.trainer.seed", "seed"]),
        ("precision", ["precision"]),
    ]
    public static var highlightedKeys: [String] { highlighted.map(\.name) }

    /// `entries` as given (RunConfig.load flattens a file's nested objects).
    public init(entries: [(key: String, value: JSONValue)]) { self.entries = entries }

    /// The value of an entry, or of a highlighted name (from the first of its keys present).
    public subscript(key: String) -> JSONValue? {
        if let value = entries.first(where: { $0.key == key })?.value { return value }
        guard let keys = Self.highlighted.first(where: { $0.name == key })?.keys else { return nil }
        for candidate in keys { if let value = entries.first(where: { $0.key == candidate })?.value { return value } }
        return nil
    }

    public func number(_ key: String) -> Double? {
        switch self[key] {
        case let .int(i)?: return Double(i)
        case let .double(d)?: return d
        default: return nil
        }
    }

    public static func load(from url: URL) throws -> RunConfig {
        let json = try JSONFile.read(url)
        guard case let .object(members) = json else {
            throw ARCDataError(file: url.path, message: "is \(json.kindName), expected an object of hyperparameters")
        }
        return RunConfig(entries: flatten(members, prefix: ""))
    }

    /// Members of nested objects become entries "outer.inner" (an empty object stays one entry).
    static func flatten(_ members: [(String, JSONValue)], prefix: String) -> [(key: String, value: JSONValue)] {
        members.flatMap { key, value -> [(key: String, value: JSONValue)] in
            if case let .object(inner) = value, !inner.isEmpty { return flatten(inner, prefix: prefix + key + ".") }
            return [(key: prefix + key, value: value)]
        }
    }

    /// A short text for a value (strings unquoted, nested values as compact JSON).
    public static func text(_ value: JSONValue) -> String {
        switch value {
        case .null: return "null"
        case let .bool(b): return b ? "true" : "false"
        case let .int(i): return String(i)
        case let .double(d): return d.isFinite ? String(format: "%g", d) : "\(d)"
        case let .string(s): return s
        case let .array(items): return "[" + items.map { compact($0) }.joined(separator: ", ") + "]"
        case .object: return compact(value)
        }
    }

    static func compact(_ value: JSONValue) -> String {
        switch value {
        case let .string(s): return "\"" + s + "\""
        case let .array(items): return "[" + items.map { compact($0) }.joined(separator: ",") + "]"
        case let .object(members): return "{" + members.map { "\"\($0.0)\":" + compact($0.1) }.joined(separator: ",") + "}"
        default: return text(value)
        }
    }
}

/// The logged training metrics: one record per line, numeric fields only.
public struct MetricsLog: Sendable {
    public var records: [[String: Double]]
    public init(records: [[String: Double]]) { self.records = records }

    /// The (step, value) points of `key`, x = "step" (or the line number when a line has no step).
    public func series(_ key: String) -> [(x: Double, y: Double)] {
        var out = [(x: Double, y: Double)]()
        for (i, r) in records.enumerated() {
            if let y = r[key], y.isFinite { out.append((x: r["step"] ?? Double(i), y: y)) }
        }
        return out
    }

    /// The last value of `key` on any line.
    public func last(_ key: String) -> Double? {
        for r in records.reversed() { if let v = r[key], v.isFinite { return v } }
        return nil
    }

    /// Reads `metrics.jsonl`. Blank lines are skipped; a final line without a newline that does not parse
    /// (a run interrupted mid-write) is ignored; any other bad line is an error naming file and line.
    public static func load(from url: URL) throws -> MetricsLog {
        let data: Data
        do { data = try InputFile.read(url) } catch {
            throw ARCDataError(file: url.path, message: "\(error)")
        }
        return try decode(data, file: url.path)
    }

    public static func decode(_ data: Data, file: String) throws -> MetricsLog {
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        let endsWithNewline = data.last == UInt8(ascii: "\n")
        var records = [[String: Double]]()
        for (n, line) in lines.enumerated() {
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            let isUnterminatedLast = n == lines.count - 1 && !endsWithNewline
            let json: JSONValue
            do { json = try JSONParser.parse(Data(line)) } catch let e as JSONParseError {
                if isUnterminatedLast { break }
                throw ARCDataError(file: "\(file):\(n + 1)", message: e.description)
            }
            guard case let .object(members) = json else {
                throw ARCDataError(file: "\(file):\(n + 1)", message: "line is \(json.kindName), expected an object")
            }
            var record = [String: Double]()
            for (key, value) in members {
                switch value {
                case let .int(i): record[key] = Double(i)
                case let .double(d): record[key] = d
                default: continue
                }
            }
            records.append(record)
        }
        return MetricsLog(records: records)
    }
}

/// Reads and parses a JSON file; errors name the file (a missing file says so).
enum JSONFile {
    static func read(_ url: URL) throws -> JSONValue {
        let data: Data
        do { data = try InputFile.read(url) } catch {
            throw ARCDataError(file: url.path, message: "\(error)")
        }
        do { return try JSONParser.parse(data) } catch let e as JSONParseError {
            throw ARCDataError(file: url.path, message: e.description)
        }
    }
}
