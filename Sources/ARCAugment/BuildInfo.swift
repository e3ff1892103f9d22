// build_info.json of a built dataset, as one typed value: the options that made it (`Inputs`:
// train-eval reuses a dataset only when they are the same) and what the build found (tasks,
// identifiers, the tasks left out, renamed and leaking, and in bucket mode the tasks per bucket and
// the test outputs that do not fit). Written by the builder (DatasetWriter.swift), read by evaluate
// and train-eval. The file is one line with ", " and ": " separators and the keys in the order of
// `Key`, the bucket-mode keys only in bucket mode: the bytes of the earlier writer, pinned by
// LegacyLayoutGoldenTests.
import ARCCore
import Foundation

public struct BuildInfo: Codable, Equatable, Sendable {
    public static let fileName = "build_info.json"
    public static let formatName = "hrm-arc"

    /// The build options recorded in the file: the same inputs give the same dataset.
    public struct Inputs: Equatable, Sendable {
        public var format = BuildInfo.formatName
        public var numAug: Int
        /// 0...Int64.max (a JSON integer).
        public var seed: UInt64
        /// Sequences are canvas x canvas tokens (30 in bucket mode: positions on the 30 x 30 board).
        public var canvas: Int
        public var retriesFactor: Int
        /// The sources' labels by role, in input order.
        public var training: [String]
        public var evaluation: [String]
        /// Sorted task ids; nil: every task.
        public var taskFilter: [String]?
        public var maxTasksPerSet: Int?
        /// Bucket mode: the bucket sides; nil for a single canvas.
        public var canvasBuckets: [Int]?

        /// What a build with `options` from sources with these labels records.
        public init(options: DatasetBuildOptions, training: [String], evaluation: [String]) {
            numAug = options.numAug
            seed = options.seed
            canvas = options.canvasBuckets != nil ? CanvasBuckets.board : options.canvas
            retriesFactor = options.retriesFactor
            self.training = training
            self.evaluation = evaluation
            taskFilter = options.taskFilter.map { $0.sorted() }
            maxTasksPerSet = options.maxTasksPerSet
            canvasBuckets = options.canvasBuckets
        }
    }

    /// A JSON object of names to values, kept in the builder's order for writing. JSON objects
    /// have no order, so two maps with the same pairs are equal, and a read map is sorted by name.
    public struct NamedValues<Value: Codable & Equatable & Sendable>: Codable, Equatable, Sendable {
        public var entries: [(name: String, value: Value)]
        public init(_ entries: [(name: String, value: Value)]) { self.entries = entries }

        public static func == (a: NamedValues, b: NamedValues) -> Bool {
            a.entries.count == b.entries.count
                && a.entries.allSatisfy { entry in b.entries.contains { $0.name == entry.name && $0.value == entry.value } }
        }

        public init(from decoder: Decoder) throws {
            let map = try decoder.singleValueContainer().decode([String: Value].self)
            entries = map.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }

        public func encode(to encoder: Encoder) throws {
            var container = encoder.container(keyedBy: AnyKey.self)
            for entry in entries { try container.encode(entry.value, forKey: AnyKey(entry.name)) }
        }
    }

    /// An evaluation-role test output larger than its task's bucket (bucket mode).
    public struct NotFitting: Codable, Equatable, Sendable {
        public var task: String
        public var test: Int
    }

    public var inputs: Inputs
    public var tasks: Int
    /// num_puzzle_identifiers: distinct puzzles + 1 (the blank).
    public var identifiers: Int
    public var leftOut: [LeftOutTask]
    /// New name -> original task id (training-role tasks whose id was already taken).
    public var renamed: NamedValues<String>
    /// Training-role task -> the evaluation-role task whose test input it holds.
    public var leaks: NamedValues<String>
    /// Bucket mode: tasks per non-empty bucket set ("c<side>"), by ascending side; empty otherwise.
    public var tasksPerBucket: NamedValues<Int>
    /// Bucket mode: the test outputs that do not fit their bucket; empty otherwise.
    public var testOutputsNotFitting: [NotFitting]

    /// The file's keys, in the file's order.
    enum Key: String, CodingKey, CaseIterable {
        case format, numAug = "num_aug", seed, canvas, retriesFactor = "retries_factor", training, evaluation
        case taskFilter = "task_filter", maxTasksPerSet = "max_tasks_per_set", tasks, identifiers, leftOut = "left_out"
        case renamed, leaks
        case canvasBuckets = "canvas_buckets", tasksPerBucket = "tasks_per_bucket"
        case testOutputsNotFittingCount = "test_outputs_not_fitting", testOutputsNotFitting = "test_outputs_not_fitting_list"
    }

    /// What a build records: its inputs, and the counts and lists of its summary.
    public init(inputs: Inputs, summary: DatasetBuildSummary, tasks: Int, identifiers: Int) {
        self.inputs = inputs
        self.tasks = tasks
        self.identifiers = identifiers
        leftOut = summary.leftOut
        renamed = NamedValues(summary.renamed.map { ($0.to, $0.from) })
        leaks = NamedValues(summary.leaks.map { ($0.training, $0.evaluation) })
        tasksPerBucket = NamedValues(summary.tasksPerBucket.sorted { $0.key < $1.key }.map { (CanvasBuckets.setName(side: $0.key), $0.value) })
        testOutputsNotFitting = summary.testOutputsNotFitting.map { NotFitting(task: $0.task, test: $0.test) }
    }

    // MARK: The file

    public static func url(in datasetDirectory: URL) -> URL { datasetDirectory.appendingPathComponent(fileName) }

    /// Reads `datasetDirectory/build_info.json`; errors are one line naming the file.
    public static func read(datasetDirectory: URL) throws -> BuildInfo {
        let url = url(in: datasetDirectory)
        let data: Data
        do { data = try InputFile.read(url) } catch { throw ARCDataError(file: url.path, message: "\(error) (is this a built dataset?)") }
        do { return try JSONDecoder().decode(BuildInfo.self, from: data) } catch {
            throw ARCDataError(file: url.path, message: "cannot be read: \(DecodingProblem.describe(error))")
        }
    }

    /// The file's content, as a JSON value with the keys in order.
    public func jsonValue() throws -> JSONValue {
        guard let seed = Int(exactly: inputs.seed) else {
            throw ARCDataError(file: Self.fileName, field: Key.seed.rawValue, message: "is \(inputs.seed), expected 0...\(Int64.max)")
        }
        func strings(_ items: [String]) -> JSONValue { .array(items.map { .string($0) }) }
        func object<V>(_ map: NamedValues<V>, _ value: (V) -> JSONValue) -> JSONValue { .object(map.entries.map { ($0.name, value($0.value)) }) }
        var members: [(Key, JSONValue)] = [
            (.format, .string(inputs.format)), (.numAug, .int(inputs.numAug)), (.seed, .int(seed)), (.canvas, .int(inputs.canvas)),
            (.retriesFactor, .int(inputs.retriesFactor)), (.training, strings(inputs.training)), (.evaluation, strings(inputs.evaluation)),
            (.taskFilter, inputs.taskFilter.map(strings) ?? .null), (.maxTasksPerSet, inputs.maxTasksPerSet.map { .int($0) } ?? .null),
            (.tasks, .int(tasks)), (.identifiers, .int(identifiers)),
            (.leftOut, .array(leftOut.map { .object([("set", .string($0.set)), ("task", .string($0.task)), ("reason", .string($0.reason))]) })),
            (.renamed, object(renamed) { .string($0) }), (.leaks, object(leaks) { .string($0) }),
        ]
        if let buckets = inputs.canvasBuckets {
            members += [
                (.canvasBuckets, .array(buckets.map { .int($0) })), (.tasksPerBucket, object(tasksPerBucket) { .int($0) }),
                (.testOutputsNotFittingCount, .int(testOutputsNotFitting.count)),
                (.testOutputsNotFitting, .array(testOutputsNotFitting.map { .object([("task", .string($0.task)), ("test", .int($0.test))]) })),
            ]
        }
        return .object(members.map { ($0.0.rawValue, $0.1) })
    }

    /// The file's text: one line and a newline.
    public func text() throws -> String { Self.spaced(try jsonValue()) + "\n" }

    /// Writes `datasetDirectory/build_info.json` atomically (temporary file, then rename).
    public func write(datasetDirectory: URL) throws {
        try AtomicFile.write(try text(), to: Self.url(in: datasetDirectory))
    }

    /// JSON text with ", " between items and ": " after keys (JSONWriter's scalars and strings).
    static func spaced(_ value: JSONValue) -> String {
        switch value {
        case let .array(items): return "[" + items.map(spaced).joined(separator: ", ") + "]"
        case let .object(members): return "{" + members.map { JSONWriter.quoted($0.0) + ": " + spaced($0.1) }.joined(separator: ", ") + "}"
        default: return JSONWriter.text(value)
        }
    }

    // MARK: Codable

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        // Written as a JSON integer 0...Int64.max (JSONDecoder's own error for a negative UInt64 names no field).
        let seed = try c.decode(Int.self, forKey: .seed)
        guard let unsignedSeed = UInt64(exactly: seed) else {
            throw DecodingError.dataCorruptedError(forKey: .seed, in: c, debugDescription: "is \(seed), expected 0...\(Int64.max)")
        }
        inputs = Inputs(
            format: try c.decode(String.self, forKey: .format), numAug: try c.decode(Int.self, forKey: .numAug),
            seed: unsignedSeed, canvas: try c.decode(Int.self, forKey: .canvas),
            retriesFactor: try c.decode(Int.self, forKey: .retriesFactor),
            training: try c.decode([String].self, forKey: .training), evaluation: try c.decode([String].self, forKey: .evaluation),
            taskFilter: try c.decodeIfPresent([String].self, forKey: .taskFilter),
            maxTasksPerSet: try c.decodeIfPresent(Int.self, forKey: .maxTasksPerSet),
            canvasBuckets: try c.decodeIfPresent([Int].self, forKey: .canvasBuckets))
        guard inputs.format == Self.formatName else {
            throw DecodingError.dataCorruptedError(forKey: .format, in: c, debugDescription: "is \"\(inputs.format)\", expected \"\(Self.formatName)\"")
        }
        tasks = try c.decode(Int.self, forKey: .tasks)
        identifiers = try c.decode(Int.self, forKey: .identifiers)
        leftOut = try c.decode([LeftOutRecord].self, forKey: .leftOut).map { LeftOutTask(set: $0.set, task: $0.task, reason: $0.reason) }
        renamed = try c.decode(NamedValues<String>.self, forKey: .renamed)
        // Datasets built before leaks were recorded have no such key.
        leaks = try c.decodeIfPresent(NamedValues<String>.self, forKey: .leaks) ?? NamedValues([])
        tasksPerBucket = try c.decodeIfPresent(NamedValues<Int>.self, forKey: .tasksPerBucket) ?? NamedValues([])
        testOutputsNotFitting = try c.decodeIfPresent([NotFitting].self, forKey: .testOutputsNotFitting) ?? []
    }

    /// The same keys and values as the file (JSONEncoder may order the keys differently).
    public func encode(to encoder: Encoder) throws { try EncodableJSON(try jsonValue()).encode(to: encoder) }

    /// One entry of left_out as stored.
    struct LeftOutRecord: Codable {
        var set: String
        var task: String
        var reason: String
    }

    /// A string-keyed coding key.
    struct AnyKey: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ name: String) { stringValue = name }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    /// A JSONValue as Encodable.
    struct EncodableJSON: Encodable {
        var value: JSONValue
        init(_ value: JSONValue) { self.value = value }

        func encode(to encoder: Encoder) throws {
            switch value {
            case let .object(members):
                var container = encoder.container(keyedBy: AnyKey.self)
                for (name, member) in members { try container.encode(EncodableJSON(member), forKey: AnyKey(name)) }
            case let .array(items):
                var container = encoder.unkeyedContainer()
                for item in items { try container.encode(EncodableJSON(item)) }
            default:
                var container = encoder.singleValueContainer()
                switch value {
                case .null: try container.encodeNil()
                case let .bool(b): try container.encode(b)
                case let .int(i): try container.encode(i)
                case let .double(d): try container.encode(d)
                case let .string(s): try container.encode(s)
                case .array, .object: break
                }
            }
        }
    }
}

extension BuildInfo.Inputs {
    /// Memberwise, for decoding.
    init(format: String, numAug: Int, seed: UInt64, canvas: Int, retriesFactor: Int, training: [String], evaluation: [String],
         taskFilter: [String]?, maxTasksPerSet: Int?, canvasBuckets: [Int]?) {
        self.format = format
        self.numAug = numAug
        self.seed = seed
        self.canvas = canvas
        self.retriesFactor = retriesFactor
        self.training = training
        self.evaluation = evaluation
        self.taskFilter = taskFilter
        self.maxTasksPerSet = maxTasksPerSet
        self.canvasBuckets = canvasBuckets
    }
}
