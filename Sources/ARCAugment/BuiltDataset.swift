// Reader of a built dataset (the layout DatasetBuilder writes, which is the reference HRM
// layout of DESIGN.md "Formats"), for the trainer, the predictor and voting.
//
// Public API:
//   let dataset = try BuiltDataset(directory: url)
//   dataset.identifiers: [String]                 identifier -> puzzle name (0 is "<blank>")
//   dataset.puzzleName(identifier:) -> String
//   dataset.augmentation(identifier:) -> (task: String, augmentation: Augmentation)   // parsed name
//   dataset.testPuzzles: [(name: String, task: ARCTask)]   test_puzzles.json in file order
//   dataset.testPuzzle(named:) -> ARCTask?
//   dataset.splitNames: [String]                   splits present ("train", "test")
//   dataset.split(_ name: String) throws -> BuiltSplit
//   BuiltSplit: .name .metadata (BuiltDatasetMetadata: padId, ignoreLabelId, blankIdentifierId,
//     vocabSize, seqLen, numPuzzleIdentifiers, totalGroups, meanPuzzleExamples, totalPuzzles?, sets)
//     .subsets: [String: BuiltSubset] (the reference only writes "all"), .subset(_:) throws
//   BuiltSubset (arrays checked for shapes, dtypes and monotone offsets on open):
//     .inputs / .labels: NpyFile (memory-mapped uint8 [examples, seqLen])
//     .puzzleIdentifiers / .puzzleIndices / .groupIndices: [Int32] (in memory)
//     .exampleCount .puzzleCount .groupCount .seqLen
//     .input(_ example:) / .label(_ example:) -> UnsafeBufferPointer<UInt8>   (valid while the subset lives)
//     .examples(ofPuzzle:) -> Range<Int>   .puzzles(ofGroup:) -> Range<Int>
//     .identifier(ofPuzzle:) -> Int        .puzzle(ofExample:) -> Int  (binary search)
import ARCCore
import Foundation

public struct BuiltDatasetMetadata: Sendable, Equatable {
    public var padId: Int
    public var ignoreLabelId: Int?
    public var blankIdentifierId: Int
    public var vocabSize: Int
    public var seqLen: Int
    public var numPuzzleIdentifiers: Int
    public var totalGroups: Int
    public var meanPuzzleExamples: Double
    /// Written by newer reference versions and by us; nil when absent.
    public var totalPuzzles: Int?
    public var sets: [String]

    /// Parses dataset.json; errors name the file and field.
    public init(json: JSONValue, file: String) throws {
        func fail(_ field: String, _ m: String) -> ARCDataError { ARCDataError(file: file, field: field, message: m) }
        func int(_ key: String) throws -> Int {
            guard let v = json[key] else { throw fail(key, "missing") }
            guard case let .int(i) = v else { throw fail(key, "is \(v.kindName), expected an integer") }
            return i
        }
        padId = try int("pad_id")
        if let v = json["ignore_label_id"], v != .null { ignoreLabelId = try int("ignore_label_id") } else { ignoreLabelId = nil }
        blankIdentifierId = try int("blank_identifier_id")
        vocabSize = try int("vocab_size")
        seqLen = try int("seq_len")
        numPuzzleIdentifiers = try int("num_puzzle_identifiers")
        totalGroups = try int("total_groups")
        switch json["mean_puzzle_examples"] {
        case let .double(d)?: meanPuzzleExamples = d
        case let .int(i)?: meanPuzzleExamples = Double(i)
        default: throw fail("mean_puzzle_examples", "missing or not a number")
        }
        totalPuzzles = json["total_puzzles"] == nil ? nil : try int("total_puzzles")
        guard case let .array(items)? = json["sets"] else { throw fail("sets", "missing or not an array") }
        sets = try items.map {
            guard case let .string(s) = $0 else { throw fail("sets", "has \($0.kindName), expected strings") }
            return s
        }
    }
}

public final class BuiltSubset: @unchecked Sendable {
    public let name: String
    public let inputs: NpyFile
    public let labels: NpyFile
    public let puzzleIdentifiers: [Int32]
    public let puzzleIndices: [Int32]
    public let groupIndices: [Int32]
    public let seqLen: Int

    public var exampleCount: Int { inputs.rowCount }
    public var puzzleCount: Int { puzzleIdentifiers.count }
    public var groupCount: Int { groupIndices.count - 1 }

    init(directory: URL, name: String, metadata: BuiltDatasetMetadata) throws {
        self.name = name
        func url(_ field: String) -> URL { directory.appendingPathComponent("\(name)__\(field).npy") }
        inputs = try NpyFile(contentsOf: url("inputs"))
        labels = try NpyFile(contentsOf: url("labels"))
        puzzleIdentifiers = try NpyFile(contentsOf: url("puzzle_identifiers")).int32Values()
        puzzleIndices = try NpyFile(contentsOf: url("puzzle_indices")).int32Values()
        groupIndices = try NpyFile(contentsOf: url("group_indices")).int32Values()
        seqLen = metadata.seqLen
        func fail(_ field: String, _ m: String) -> ARCDataError { ARCDataError(file: url(field).path, message: m) }
        for (field, file) in [("inputs", inputs), ("labels", labels)] {
            guard file.dtype == .uint8 || file.dtype == .int32 else { throw fail(field, "dtype \(file.dtype.rawValue), expected |u1") }
            guard file.dtype == .uint8 else { throw fail(field, "int32 token arrays are not supported yet, expected |u1") }
            guard file.shape.count == 2, file.shape[1] == seqLen else { throw fail(field, "shape \(file.shape), expected [examples, \(seqLen)]") }
        }
        guard labels.rowCount == inputs.rowCount else { throw fail("labels", "\(labels.rowCount) rows, inputs have \(inputs.rowCount)") }
        guard puzzleIndices.count == puzzleIdentifiers.count + 1 else {
            throw fail("puzzle_indices", "\(puzzleIndices.count) entries for \(puzzleIdentifiers.count) puzzles (expected puzzles + 1)")
        }
        func checkOffsets(_ values: [Int32], _ field: String, end: Int) throws {
            guard values.first == 0, Int(values.last ?? -1) == end else { throw fail(field, "must run from 0 to \(end)") }
            for k in 1..<values.count where values[k] < values[k - 1] { throw fail(field, "decreases at \(k)") }
        }
        try checkOffsets(puzzleIndices, "puzzle_indices", end: inputs.rowCount)
        try checkOffsets(groupIndices, "group_indices", end: puzzleIdentifiers.count)
        for (p, id) in puzzleIdentifiers.enumerated() where id < 0 || Int(id) >= metadata.numPuzzleIdentifiers {
            throw fail("puzzle_identifiers", "entry \(p) is \(id), outside 0..<\(metadata.numPuzzleIdentifiers)")
        }
    }

    public func input(_ example: Int) -> UnsafeBufferPointer<UInt8> { inputs.uint8Row(example) }
    public func label(_ example: Int) -> UnsafeBufferPointer<UInt8> { labels.uint8Row(example) }
    public func examples(ofPuzzle puzzle: Int) -> Range<Int> { Int(puzzleIndices[puzzle])..<Int(puzzleIndices[puzzle + 1]) }
    public func puzzles(ofGroup group: Int) -> Range<Int> { Int(groupIndices[group])..<Int(groupIndices[group + 1]) }
    public func identifier(ofPuzzle puzzle: Int) -> Int { Int(puzzleIdentifiers[puzzle]) }

    /// The puzzle that owns `example` (last p with puzzleIndices[p] <= example).
    public func puzzle(ofExample example: Int) -> Int {
        precondition(example >= 0 && example < exampleCount, "example \(example) outside 0..<\(exampleCount)")
        var lo = 0, hi = puzzleCount  // invariant: puzzleIndices[lo] <= example < puzzleIndices[hi]
        while hi - lo > 1 {
            let mid = (lo + hi) / 2
            if Int(puzzleIndices[mid]) <= example { lo = mid } else { hi = mid }
        }
        return lo
    }
}

public final class BuiltSplit: @unchecked Sendable {
    public let name: String
    public let metadata: BuiltDatasetMetadata
    public let subsets: [String: BuiltSubset]

    init(directory: URL, name: String) throws {
        self.name = name
        let file = directory.appendingPathComponent("dataset.json")
        metadata = try BuiltDatasetMetadata(json: BuiltDataset.readJSON(file), file: file.path)
        var subsets = [String: BuiltSubset]()
        for set in metadata.sets { subsets[set] = try BuiltSubset(directory: directory, name: set, metadata: metadata) }
        self.subsets = subsets
        let groups = subsets.values.reduce(0) { $0 + $1.groupCount }
        guard groups == metadata.totalGroups else {
            throw ARCDataError(file: file.path, field: "total_groups", message: "is \(metadata.totalGroups), the arrays hold \(groups) groups")
        }
    }

    public func subset(_ set: String = "all") throws -> BuiltSubset {
        guard let s = subsets[set] else { throw ARCDataError(file: name, message: "no set \"\(set)\" (has \(subsets.keys.sorted()))") }
        return s
    }
}

public final class BuiltDataset: @unchecked Sendable {
    public let directory: URL
    public let identifiers: [String]
    public let testPuzzles: [(name: String, task: ARCTask)]
    private let testPuzzleIndex: [String: Int]
    public let splitNames: [String]
    private var splits = [String: BuiltSplit]()
    private let lock = NSLock()

    static func readJSON(_ url: URL) throws -> JSONValue {
        let data: Data
        do { data = try Data(contentsOf: url) } catch { throw ARCDataError(file: url.path, message: "cannot read (is this a built dataset?)") }
        do { return try JSONParser.parse(data) } catch { throw ARCDataError(file: url.path, message: "\(error)") }
    }

    public init(directory: URL) throws {
        self.directory = directory
        let idURL = directory.appendingPathComponent("identifiers.json")
        guard case let .array(names) = try BuiltDataset.readJSON(idURL) else {
            throw ARCDataError(file: idURL.path, message: "expected an array of puzzle names")
        }
        identifiers = try names.enumerated().map { k, v in
            guard case let .string(s) = v else { throw ARCDataError(file: idURL.path, field: "[\(k)]", message: "is \(v.kindName), expected a string") }
            return s
        }
        let testURL = directory.appendingPathComponent("test_puzzles.json")
        var puzzles = [(name: String, task: ARCTask)]()
        if FileManager.default.fileExists(atPath: testURL.path) {
            guard case let .object(entries) = try BuiltDataset.readJSON(testURL) else {
                throw ARCDataError(file: testURL.path, message: "expected an object {task: {train, test}}")
            }
            for (name, value) in entries { puzzles.append((name, try TaskLoader.parseTask(value, id: name, file: testURL.path))) }
        }
        testPuzzles = puzzles
        testPuzzleIndex = Dictionary(puzzles.enumerated().map { ($1.name, $0) }, uniquingKeysWith: { a, _ in a })
        splitNames = ["train", "test"].filter {
            FileManager.default.fileExists(atPath: directory.appendingPathComponent($0).appendingPathComponent("dataset.json").path)
        }
        if splitNames.isEmpty { throw ARCDataError(file: directory.path, message: "no train/dataset.json or test/dataset.json") }
    }

    /// Opens (once) and returns a split.
    public func split(_ name: String) throws -> BuiltSplit {
        lock.lock()
        defer { lock.unlock() }
        if let s = splits[name] { return s }
        guard splitNames.contains(name) else { throw ARCDataError(file: directory.path, message: "no split \"\(name)\" (has \(splitNames))") }
        let s = try BuiltSplit(directory: directory.appendingPathComponent(name), name: name)
        guard s.metadata.numPuzzleIdentifiers == identifiers.count else {
            throw ARCDataError(file: directory.appendingPathComponent(name).appendingPathComponent("dataset.json").path,
                               field: "num_puzzle_identifiers",
                               message: "is \(s.metadata.numPuzzleIdentifiers), identifiers.json has \(identifiers.count) names")
        }
        splits[name] = s
        return s
    }

    public func puzzleName(identifier: Int) -> String { identifiers[identifier] }

    /// The task and augmentation an identifier's puzzle name encodes.
    public func augmentation(identifier: Int) -> (task: String, augmentation: Augmentation) {
        Augmentation.parse(puzzleName: identifiers[identifier])
    }

    public func testPuzzle(named name: String) -> ARCTask? { testPuzzleIndex[name].map { testPuzzles[$0].task } }
}
