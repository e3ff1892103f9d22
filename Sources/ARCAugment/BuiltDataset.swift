// Reader of a built dataset (the layout DatasetBuilder writes, which is the reference HRM
// layout of docs/DESIGN.md "Formats"), for the trainer, the predictor and voting.
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
//     vocabSize, seqLen, numPuzzleIdentifiers, totalGroups, meanPuzzleExamples, totalPuzzles?, sets,
//     canvasSides: [String: Int]? (bucket mode; nil = every set has seq_len tokens per example))
//     .subsets: [String: BuiltSubset] (the reference only writes "all"), .subset(_:) throws
//     .orderedSubsets: [BuiltSubset]               in metadata.sets order (bucket mode: ascending side)
//   dataset.canvas: Int?                           build_info.json's canvas (1...30), nil without build_info.json
//                                                  (bucket mode: 30, the position board)
//   dataset.canvasBuckets: [Int]?                  build_info.json's canvas_buckets (nil: single canvas)
//   BuiltSubset (checked on open, before any work: shapes, dtypes, offsets strictly increasing from 0
//     to the counts (no empty puzzle or group), identifiers in range, every token < vocab_size):
//     .inputs / .labels: NpyFile (memory-mapped uint8 [examples, tokensPerExample])
//     .puzzleIdentifiers / .puzzleIndices / .groupIndices: [Int32] (in memory)
//     .exampleCount .puzzleCount .groupCount .seqLen (dataset.json's; the 30 x 30 board in bucket mode)
//     .side: Int? (bucket mode: the set's canvas side; token t is board cell (t / side, t % side),
//       position row * 30 + col) .tokensPerExample (side * side, or seqLen)
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
    /// Bucket mode (docs/DESIGN.md "Canvas buckets"): each set's canvas side (a side-s set stores
    /// s * s tokens per example, the top-left crop of the 30 x 30 board, seq_len 900). nil: every
    /// set stores seq_len tokens per example.
    public var canvasSides: [String: Int]?

    /// Largest seq_len accepted: a 30 x 30 canvas (ARC grids are at most 30 x 30).
    public static let maximumSeqLen = 900

    /// Parses dataset.json and checks each field's range; errors name the file, the field and the range.
    public init(json: JSONValue, file: String) throws {
        func fail(_ field: String, _ m: String) -> ARCDataError { ARCDataError(file: file, field: field, message: m) }
        guard case .object = json else { throw ARCDataError(file: file, message: "is \(json.kindName), expected an object") }
        func int(_ key: String, _ range: ClosedRange<Int>, _ why: String = "") throws -> Int {
            guard let v = json[key] else { throw fail(key, "missing") }
            guard case let .int(i) = v else { throw fail(key, "is \(v.kindName), expected an integer") }
            guard range.contains(i) else { throw fail(key, "is \(i), expected \(range.lowerBound)...\(range.upperBound)\(why)") }
            return i
        }
        vocabSize = try int("vocab_size", 1...256, " (tokens are stored as bytes)")
        padId = try int("pad_id", 0...(vocabSize - 1), " (below vocab_size \(vocabSize))")
        if let v = json["ignore_label_id"], v != .null {
            ignoreLabelId = try int("ignore_label_id", 0...255, " or null (labels are stored as bytes)")
        } else {
            ignoreLabelId = nil
        }
        seqLen = try int("seq_len", 1...Self.maximumSeqLen, " (a canvas of at most 30x30)")
        numPuzzleIdentifiers = try int("num_puzzle_identifiers", 1...Int(Int32.max))
        blankIdentifierId = try int("blank_identifier_id", 0...(numPuzzleIdentifiers - 1), " (below num_puzzle_identifiers \(numPuzzleIdentifiers))")
        totalGroups = try int("total_groups", 0...Int(Int32.max))
        switch json["mean_puzzle_examples"] {
        case let .double(d)?: meanPuzzleExamples = d
        case let .int(i)?: meanPuzzleExamples = Double(i)
        default: throw fail("mean_puzzle_examples", "missing or not a number")
        }
        guard meanPuzzleExamples.isFinite, meanPuzzleExamples >= 0 else {
            throw fail("mean_puzzle_examples", "is \(meanPuzzleExamples), expected a finite number >= 0")
        }
        totalPuzzles = json["total_puzzles"] == nil ? nil : try int("total_puzzles", 0...Int(Int32.max))
        guard case let .array(items)? = json["sets"] else { throw fail("sets", "missing or not an array") }
        sets = try items.map {
            guard case let .string(s) = $0 else { throw fail("sets", "has \($0.kindName), expected strings") }
            // Set names become file names (<set>__inputs.npy): keep them plain.
            guard !s.isEmpty, s.count <= 64, s.unicodeScalars.allSatisfy({ $0.isASCII && (CharacterSet.alphanumerics.contains($0) || $0 == "_" || $0 == "-") }) else {
                throw fail("sets", "has \(JSONWriter.quoted(String(s.prefix(64)))), expected a name of letters, digits, '_' or '-'")
            }
            return s
        }
        guard !sets.isEmpty else { throw fail("sets", "is empty (the reference writes [\"all\"])") }
        guard Set(sets).count == sets.count else { throw fail("sets", "names a set twice") }
        if let v = json["canvas_sides"], v != .null {
            guard case let .object(entries) = v else { throw fail("canvas_sides", "is \(v.kindName), expected an object {set: side}") }
            guard seqLen == Self.maximumSeqLen else {
                throw fail("canvas_sides", "is present but seq_len is \(seqLen), expected \(Self.maximumSeqLen) (positions on the 30x30 board)")
            }
            var sides = [String: Int]()
            for (name, value) in entries {
                let shown = JSONWriter.quoted(String(name.prefix(64)))
                guard sets.contains(name) else { throw fail("canvas_sides", "names \(shown), which is not in sets") }
                guard sides[name] == nil else { throw fail("canvas_sides", "names \(shown) twice") }
                guard case let .int(side) = value, (1...Grid.maxSide).contains(side) else {
                    throw fail("canvas_sides", "\(shown) is \(JSONWriter.text(value).prefix(40)), expected a side 1...\(Grid.maxSide)")
                }
                guard side * side <= seqLen else {
                    throw fail("canvas_sides", "\(shown) is \(side): \(side * side) tokens exceed seq_len \(seqLen)")
                }
                sides[name] = side
            }
            if let missing = sets.first(where: { sides[$0] == nil }) {
                throw fail("canvas_sides", "has no side for set \(JSONWriter.quoted(missing))")
            }
            canvasSides = sides
        } else {
            canvasSides = nil
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
    /// Bucket mode: this set's canvas side (nil: a single-canvas dataset).
    public let side: Int?
    /// Tokens per example row: side * side in bucket mode, else seqLen.
    public let tokensPerExample: Int

    public var exampleCount: Int { inputs.rowCount }
    public var puzzleCount: Int { puzzleIdentifiers.count }
    public var groupCount: Int { groupIndices.count - 1 }

    init(directory: URL, name: String, metadata: BuiltDatasetMetadata) throws {
        self.name = name
        func url(_ field: String) -> URL { directory.appendingPathComponent("\(name)__\(field).npy") }
        func fail(_ field: String, _ m: String) -> ARCDataError { ARCDataError(file: url(field).path, message: m) }
        func offsets(_ field: String) throws -> [Int32] {
            let file = try NpyFile(contentsOf: url(field))
            guard file.shape.count == 1 else { throw fail(field, "shape \(file.shape), expected one dimension") }
            return try file.int32Values()
        }
        inputs = try NpyFile(contentsOf: url("inputs"))
        labels = try NpyFile(contentsOf: url("labels"))
        puzzleIdentifiers = try offsets("puzzle_identifiers")
        puzzleIndices = try offsets("puzzle_indices")
        groupIndices = try offsets("group_indices")
        seqLen = metadata.seqLen
        side = metadata.canvasSides?[name]
        tokensPerExample = side.map { $0 * $0 } ?? seqLen
        let rowSource = side.map { "canvas side \($0) of dataset.json's canvas_sides" } ?? "seq_len \(seqLen) of dataset.json"
        for (field, file) in [("inputs", inputs), ("labels", labels)] {
            guard file.dtype == .uint8 || file.dtype == .int32 else { throw fail(field, "dtype \(file.dtype.rawValue), expected |u1") }
            guard file.dtype == .uint8 else { throw fail(field, "int32 token arrays are not supported yet, expected |u1") }
            guard file.shape.count == 2, file.shape[1] == tokensPerExample else {
                throw fail(field, "shape \(file.shape), expected [examples, \(tokensPerExample)] (\(rowSource))")
            }
        }
        guard labels.rowCount == inputs.rowCount else { throw fail("labels", "\(labels.rowCount) rows, inputs have \(inputs.rowCount)") }
        guard inputs.rowCount <= Int(Int32.max) else { throw fail("inputs", "\(inputs.rowCount) examples, at most \(Int32.max)") }
        guard puzzleIndices.count == puzzleIdentifiers.count + 1 else {
            throw fail("puzzle_indices", "\(puzzleIndices.count) entries for \(puzzleIdentifiers.count) puzzles (expected puzzles + 1)")
        }
        // Offsets run from 0 to the count and increase strictly: every puzzle has examples and every
        // group has puzzles (the sampler draws one puzzle per group and one example set per puzzle).
        func checkOffsets(_ values: [Int32], _ field: String, end: Int, items: String, of owner: String) throws {
            guard let first = values.first, let last = values.last else { throw fail(field, "is empty, expected at least one entry (0)") }
            guard first == 0 else { throw fail(field, "starts at \(first), expected 0") }
            guard Int(last) == end else { throw fail(field, "ends at \(last), expected \(end) (the number of \(items))") }
            for k in 1..<values.count where values[k] <= values[k - 1] {
                if values[k] < values[k - 1] { throw fail(field, "decreases at entry \(k) (\(values[k - 1]) then \(values[k]))") }
                throw fail(field, "\(owner) \(k - 1) has no \(items) (entries \(k - 1) and \(k) are both \(values[k]))")
            }
        }
        try checkOffsets(puzzleIndices, "puzzle_indices", end: inputs.rowCount, items: "examples", of: "puzzle")
        try checkOffsets(groupIndices, "group_indices", end: puzzleIdentifiers.count, items: "puzzles", of: "group")
        for (p, id) in puzzleIdentifiers.enumerated() where id < 0 || Int(id) >= metadata.numPuzzleIdentifiers {
            throw fail("puzzle_identifiers", "entry \(p) is \(id), outside 0..<\(metadata.numPuzzleIdentifiers) (num_puzzle_identifiers of dataset.json)")
        }
        // Every token indexes the model's embedding and output: check them all now, before any work.
        if let (example, position, token) = Self.firstToken(in: inputs, atLeast: metadata.vocabSize, except: nil) {
            throw fail("inputs", "example \(example) position \(position) holds token \(token), outside 0..<\(metadata.vocabSize) (vocab_size of dataset.json)")
        }
        let ignore = metadata.ignoreLabelId.map { UInt8($0) }
        if let (example, position, token) = Self.firstToken(in: labels, atLeast: metadata.vocabSize, except: ignore) {
            throw fail("labels", "example \(example) position \(position) holds label \(token), outside 0..<\(metadata.vocabSize) (vocab_size of dataset.json)"
                       + (ignore.map { " and not ignore_label_id \($0)" } ?? ""))
        }
    }

    /// The first byte of a uint8 array that is >= `limit` and not `except`, as (row, column, value).
    static func firstToken(in file: NpyFile, atLeast limit: Int, except: UInt8?) -> (Int, Int, UInt8)? {
        guard limit <= 255 else { return nil }
        return file.withUnsafeRawData { raw -> (Int, Int, UInt8)? in
            // A fast maximum first (vectorised), the exact position only when something is out of range.
            var largest: UInt8 = 0
            for byte in raw { largest = max(largest, byte) }
            guard Int(largest) >= limit else { return nil }
            let row = max(file.rowLength, 1)
            for (k, byte) in raw.enumerated() where Int(byte) >= limit && byte != except { return (k / row, k % row, byte) }
            return nil
        }
    }

    public func input(_ example: Int) -> UnsafeBufferPointer<UInt8> { inputs.uint8Row(example) }
    public func label(_ example: Int) -> UnsafeBufferPointer<UInt8> { labels.uint8Row(example) }
    public func examples(ofPuzzle puzzle: Int) -> Range<Int> { Int(puzzleIndices[puzzle])..<Int(puzzleIndices[puzzle + 1]) }
    public func puzzles(ofGroup group: Int) -> Range<Int> { Int(groupIndices[group])..<Int(groupIndices[group + 1]) }
    public func identifier(ofPuzzle puzzle: Int) -> Int { Int(puzzleIdentifiers[puzzle]) }

    /// The puzzle that owns `example` (last p with puzzleIndices[p] <= example).
    public func puzzle(ofExample example: Int) -> Int {
        // Callers pass an example index of this subset (0..<exampleCount, never a value read from a file).
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
    /// The subsets in metadata.sets order (bucket mode: ascending canvas side).
    public var orderedSubsets: [BuiltSubset] { metadata.sets.compactMap { subsets[$0] } }

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
        let puzzles = subsets.values.reduce(0) { $0 + $1.puzzleCount }, examples = subsets.values.reduce(0) { $0 + $1.exampleCount }
        if let total = metadata.totalPuzzles, total != puzzles {
            throw ARCDataError(file: file.path, field: "total_puzzles", message: "is \(total), the arrays hold \(puzzles) puzzles")
        }
        // The reference defines it as examples / puzzles; allow for rounding in how it was printed.
        let mean = puzzles > 0 ? Double(examples) / Double(puzzles) : 0
        guard abs(metadata.meanPuzzleExamples - mean) <= 1e-6 * max(1, mean) else {
            throw ARCDataError(file: file.path, field: "mean_puzzle_examples",
                               message: "is \(metadata.meanPuzzleExamples), the arrays hold \(examples) examples in \(puzzles) puzzles (mean \(mean))")
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

    /// Reads one JSON file of a built dataset; errors name the file.
    public static func readJSON(_ url: URL) throws -> JSONValue {
        let data: Data
        do { data = try InputFile.read(url) } catch { throw ARCDataError(file: url.path, message: "\(error) (is this a built dataset?)") }
        do { return try JSONParser.parse(data) } catch { throw ARCDataError(file: url.path, message: "\(error)") }
    }

    /// build_info.json's canvas side: sequences are canvas x canvas tokens, decoded on that canvas.
    public let canvas: Int?
    /// build_info.json's canvas_buckets (bucket mode), nil for a single-canvas dataset.
    public let canvasBuckets: [Int]?

    public init(directory: URL) throws {
        self.directory = directory
        let infoURL = directory.appendingPathComponent("build_info.json")
        if FileManager.default.fileExists(atPath: infoURL.path) {
            let info = try BuiltDataset.readJSON(infoURL)
            guard case .object = info else { throw ARCDataError(file: infoURL.path, message: "is \(info.kindName), expected an object") }
            guard let value = info["canvas"] else { throw ARCDataError(file: infoURL.path, field: "canvas", message: "missing") }
            guard case let .int(side) = value, (1...Grid.maxSide).contains(side) else {
                throw ARCDataError(file: infoURL.path, field: "canvas", message: "is \(JSONWriter.text(value).prefix(40)), expected an integer 1...\(Grid.maxSide)")
            }
            canvas = side
            if let value = info["canvas_buckets"], value != .null {
                guard case let .array(items) = value else {
                    throw ARCDataError(file: infoURL.path, field: "canvas_buckets", message: "is \(value.kindName), expected an array of sides")
                }
                let sides = try items.map { item -> Int in
                    guard case let .int(s) = item else {
                        throw ARCDataError(file: infoURL.path, field: "canvas_buckets", message: "has \(JSONWriter.text(item).prefix(40)), expected integer sides")
                    }
                    return s
                }
                do { try CanvasBuckets.validate(sides) } catch {
                    throw ARCDataError(file: infoURL.path, field: "canvas_buckets", message: "\(error)")
                }
                guard side == CanvasBuckets.board else {
                    throw ARCDataError(file: infoURL.path, field: "canvas", message: "is \(side), expected \(CanvasBuckets.board) with canvas_buckets (positions on the 30x30 board)")
                }
                canvasBuckets = sides
            } else {
                canvasBuckets = nil
            }
        } else {
            canvas = nil
            canvasBuckets = nil
        }
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
        if let canvas, canvas * canvas != s.metadata.seqLen {
            throw ARCDataError(file: directory.appendingPathComponent("build_info.json").path, field: "canvas",
                               message: "is \(canvas), but \(name)/dataset.json has seq_len \(s.metadata.seqLen) (expected canvas x canvas = \(canvas * canvas))")
        }
        let metadataPath = directory.appendingPathComponent(name).appendingPathComponent("dataset.json").path
        if let buckets = canvasBuckets {
            guard let sides = s.metadata.canvasSides else {
                throw ARCDataError(file: metadataPath, field: "canvas_sides", message: "missing, but build_info.json has canvas_buckets \(buckets)")
            }
            for set in s.metadata.sets where !buckets.contains(sides[set] ?? 0) {
                throw ARCDataError(file: metadataPath, field: "canvas_sides", message: "gives set \(set) side \(sides[set] ?? 0), not in build_info.json's canvas_buckets \(buckets)")
            }
        }
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
