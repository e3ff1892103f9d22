// Canvas buckets (docs/DESIGN.md "Canvas buckets"): the bucket a task goes to (each branch of the
// output-shape prediction for evaluation tasks), bucket encodings being exactly the top-left crop
// of the 30 x 30 encoding, translations keeping the EOS border inside the bucket, the layout and
// metadata of a bucket build read back through BuiltDataset, and determinism.
import ARCAugment
import ARCCore
import Foundation
import XCTest

final class CanvasBucketTests: XCTestCase {
    /// A grid of the given shape (cells cycle through the colours).
    func grid(_ rows: Int, _ cols: Int, _ k: Int = 0) -> Grid {
        Grid(rows: rows, cols: cols, cells: (0..<(rows * cols)).map { UInt8(($0 * 7 + k) % 10) })
    }

    func pair(_ ir: Int, _ ic: Int, _ or: Int, _ oc: Int) -> Pair { Pair(input: grid(ir, ic, 1), output: grid(or, oc, 2)) }

    func shape(_ task: ARCTask, _ k: Int = 0) -> [Int] {
        let s = CanvasBuckets.predictedOutputShape(demonstrations: task.train, testInput: (task.test[k].input.rows, task.test[k].input.cols))
        return [s.rows, s.cols]
    }

    // MARK: Bucket choice

    func testPredictionRuleBranches() {
        // 1. Every demonstration keeps its shape: the test input's shape.
        let same = ARCTask(id: "same", train: [pair(3, 3, 3, 3), pair(5, 2, 5, 2)], test: [pair(7, 4, 20, 20)])
        XCTAssertEqual(shape(same), [7, 4])
        XCTAssertEqual(CanvasBuckets.need(same, role: .evaluation), 8, "7 + 1; the real 20x20 test output is not looked at")
        XCTAssertEqual(CanvasBuckets.need(same, role: .training), 21, "training role: the test output is training data")
        // 2. One output shape for all demonstrations.
        let fixed = ARCTask(id: "fixed", train: [pair(3, 3, 2, 2), pair(5, 5, 2, 2)], test: [pair(4, 4, 2, 2)])
        XCTAssertEqual(shape(fixed), [2, 2])
        XCTAssertEqual(CanvasBuckets.need(fixed, role: .evaluation), 6, "largest demonstration side 5, + 1")
        let fixedLarge = ARCTask(id: "fixedLarge", train: [pair(3, 3, 12, 9), pair(2, 2, 12, 9)], test: [pair(4, 4, 12, 9)])
        XCTAssertEqual(shape(fixedLarge), [12, 9])
        // 3. Integer ratios, the same per axis: the test input scaled (capped at 30).
        let scaled = ARCTask(id: "scaled", train: [pair(2, 3, 4, 9), pair(3, 1, 6, 3)], test: [pair(5, 4, 1, 1), pair(12, 12, 1, 1)])
        XCTAssertEqual(shape(scaled, 0), [10, 12])
        XCTAssertEqual(shape(scaled, 1), [24, 30], "12 x 3 = 36, capped at 30")
        XCTAssertEqual(CanvasBuckets.need(scaled, role: .evaluation), 30)
        // 4a. Integer ratios that differ between demonstrations: largest output side x largest ratio.
        let mixed = ARCTask(id: "mixed", train: [pair(2, 2, 4, 4), pair(3, 3, 3, 3)], test: [pair(3, 3, 1, 1)])
        XCTAssertEqual(shape(mixed), [8, 8], "largest output side 4 x largest ratio 2")
        XCTAssertEqual(CanvasBuckets.need(mixed, role: .evaluation), 9)
        // 4b. A non-integer ratio: rounded up.
        let fraction = ARCTask(id: "fraction", train: [pair(2, 3, 3, 3), pair(4, 4, 2, 2)], test: [pair(1, 1, 1, 1)])
        XCTAssertEqual(shape(fraction), [5, 5], "largest output side 3 x largest ratio 3/2 = 4.5, rounded up")
        XCTAssertEqual(CanvasBuckets.need(fraction, role: .evaluation), 6)
        // 4c. Capped at 30.
        let capped = ARCTask(id: "capped", train: [pair(5, 5, 20, 20), pair(3, 3, 3, 3)], test: [pair(1, 1, 1, 1)])
        XCTAssertEqual(shape(capped), [30, 30])
        // A test output missing (hidden test set): the prediction still works.
        let hidden = ARCTask(id: "hidden", train: [pair(3, 3, 6, 6), pair(2, 4, 4, 8)], test: [Pair(input: grid(4, 5), output: nil)])
        XCTAssertEqual(shape(hidden), [8, 10])
        XCTAssertEqual(CanvasBuckets.need(hidden, role: .evaluation), 11)
        // Dihedral transforms swap rows and columns: the need uses the larger of the two.
        let wide = ARCTask(id: "wide", train: [pair(1, 14, 1, 14)], test: [pair(1, 2, 1, 2)])
        XCTAssertEqual(CanvasBuckets.need(wide, role: .evaluation), 15)
        // Need is capped at 30 (a 30-wide grid has no room for an EOS column anyway).
        let full = ARCTask(id: "full", train: [pair(30, 30, 30, 30)], test: [pair(30, 30, 30, 30)])
        XCTAssertEqual(CanvasBuckets.need(full, role: .training), 30)
    }

    func testBucketSideAndListValidation() throws {
        XCTAssertEqual(CanvasBuckets.side(need: 8, in: CanvasBuckets.auto), 8)
        XCTAssertEqual(CanvasBuckets.side(need: 9, in: CanvasBuckets.auto), 12)
        XCTAssertEqual(CanvasBuckets.side(need: 2, in: CanvasBuckets.auto), 8)
        XCTAssertEqual(CanvasBuckets.side(need: 30, in: CanvasBuckets.auto), 30)
        XCTAssertNil(CanvasBuckets.side(need: 21, in: [10, 20]))
        XCTAssertNoThrow(try CanvasBuckets.validate(CanvasBuckets.auto))
        XCTAssertNoThrow(try CanvasBuckets.validate([2, 30]))
        XCTAssertNoThrow(try CanvasBuckets.validate([17]))
        for bad in [[], [1, 30], [10, 5], [10, 10], [31], [0], [-4, 8]] {
            XCTAssertThrowsError(try CanvasBuckets.validate(bad), "\(bad)")
        }
    }

    // MARK: Encoding

    /// The top-left side x side crop of a 30 x 30 token board.
    func crop(_ tokens: [UInt8], side: Int) -> [UInt8] {
        (0..<side).flatMap { r in tokens[(r * 30)..<(r * 30 + side)] }
    }

    func testBucketEncodingIsTheCropOfTheBoardEncoding() {
        var rng = Xoshiro256StarStar(seed: 77)
        var checked = 0, cropped = 0
        for side in 2...30 {
            for _ in 0..<60 {
                let rows = rng.nextInt(in: 1...30), cols = rng.nextInt(in: 1...30)
                let g = TestSupport.randomGrid(rows: rows, cols: cols, using: &rng)
                let aug = Augmentation(dihedral: rng.nextInt(below: 8), colours: ColourMap.random(using: &rng))
                let (ar, ac) = Dihedral.shape(aug.dihedral, rows: rows, cols: cols)
                // Any offsets valid on the board, half the time within the bucket's translation range.
                var r0 = rng.nextInt(in: 0...(30 - ar)), c0 = rng.nextInt(in: 0...(30 - ac))
                let range = CanvasBuckets.translationRange(rows: ar, cols: ac, side: side)
                if rng.nextInt(below: 2) == 0 && range.row >= 0 && range.col >= 0 {
                    r0 = rng.nextInt(in: 0...range.row)
                    c0 = rng.nextInt(in: 0...range.col)
                }
                var board = [UInt8](repeating: 9, count: 900)
                board.withUnsafeMutableBufferPointer {
                    SequenceCodec.encode(tokens: $0, grid: g, augmentation: aug, canvas: 30, rowOffset: r0, colOffset: c0)
                }
                var bucket = [UInt8](repeating: 9, count: side * side)
                bucket.withUnsafeMutableBufferPointer {
                    CanvasBuckets.encode(tokens: $0, grid: g, augmentation: aug, side: side, rowOffset: r0, colOffset: c0)
                }
                XCTAssertEqual(bucket, crop(board, side: side), "side \(side), \(ar)x\(ac) at (\(r0), \(c0))")
                if r0 + ar > side || c0 + ac > side { cropped += 1 }
                checked += 1
            }
        }
        XCTAssertGreaterThan(cropped, 100, "grids larger than the bucket are covered")
        XCTAssertGreaterThan(checked - cropped, 100, "grids inside the bucket are covered")
    }

    func testTranslationRangeKeepsTheEOSBorderInside() {
        for side in 2...30 {
            for rows in 1..<side {
                for cols in 1..<side {
                    let range = CanvasBuckets.translationRange(rows: rows, cols: cols, side: side)
                    if side == 30 {
                        XCTAssertTrue(range == SequenceCodec.maximumOffsets(rows: rows, cols: cols), "the reference range on the 30x30 board")
                        continue
                    }
                    XCTAssertEqual(range.row, side - 1 - rows)
                    XCTAssertEqual(range.col, side - 1 - cols)
                    // At the largest offsets the whole EOS border (rows + cols cells) is in the bucket.
                    let g = grid(rows, cols)
                    var tokens = [UInt8](repeating: 0, count: side * side)
                    tokens.withUnsafeMutableBufferPointer {
                        CanvasBuckets.encode(tokens: $0, grid: g, augmentation: .identity, side: side, rowOffset: range.row, colOffset: range.col)
                    }
                    XCTAssertEqual(tokens.filter { $0 == SequenceCodec.eosToken }.count, rows + cols, "side \(side), \(rows)x\(cols)")
                }
            }
        }
    }

    // MARK: A bucket build

    /// Training tasks of need 4, 7 and 30; evaluation tasks of need 4 (one with a 7x7 label its
    /// predicted bucket cannot hold) and 7.
    func bucketInputs() -> [RoledTaskSet] {
        var rng = Xoshiro256StarStar(seed: 5)
        func p(_ ir: Int, _ ic: Int, _ or: Int, _ oc: Int) -> Pair {
            Pair(input: TestSupport.randomGrid(rows: ir, cols: ic, using: &rng), output: TestSupport.randomGrid(rows: or, cols: oc, using: &rng))
        }
        let training = TaskSet(name: "t", tasks: [
            ARCTask(id: "small", train: [p(3, 2, 2, 3), p(1, 1, 1, 1)], test: [p(3, 3, 3, 3)]),
            ARCTask(id: "medium", train: [p(6, 4, 4, 6)], test: [p(2, 2, 5, 5)]),
            ARCTask(id: "large", train: [p(30, 30, 30, 30), p(2, 2, 2, 2)], test: [p(1, 1, 1, 1)]),
        ])
        let evaluation = TaskSet(name: "e", tasks: [
            ARCTask(id: "evalsmall", train: [p(2, 2, 2, 2), p(3, 1, 3, 1)], test: [p(3, 3, 7, 7), Pair(input: TestSupport.randomGrid(rows: 2, cols: 3, using: &rng), output: nil)]),
            ARCTask(id: "evalmedium", train: [p(5, 6, 5, 6)], test: [p(2, 3, 2, 3)]),
        ])
        return [RoledTaskSet(set: training, role: .training), RoledTaskSet(set: evaluation, role: .evaluation)]
    }

    func bucketOptions(_ buckets: [Int] = [4, 8, 30], numAug: Int = 6, seed: UInt64 = 3) -> DatasetBuildOptions {
        var options = DatasetBuildOptions()
        options.numAug = numAug
        options.seed = seed
        options.canvasBuckets = buckets
        options.threads = 2
        return options
    }

    func testBucketBuildLayoutMetadataAndRoundTrip() throws {
        let dir = try TestSupport.temporaryDirectory("buckets")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("built")
        let summary = try DatasetBuilder.build(inputs: bucketInputs(), options: bucketOptions(), output: out)
        XCTAssertEqual(summary.tasksPerBucket, [4: 2, 8: 2, 30: 1])
        XCTAssertEqual(summary.testOutputsNotFitting.map(\.task), ["evalsmall"])
        XCTAssertEqual(summary.testOutputsNotFitting.map(\.test), [0])
        XCTAssertTrue(summary.leftOut.isEmpty)

        let files = try TestSupport.fileContents(out).keys.sorted()
        let fields = ["group_indices", "inputs", "labels", "puzzle_identifiers", "puzzle_indices"]
        func arrays(_ split: String, _ sets: [String]) -> [String] {
            sets.flatMap { set -> [String] in fields.map { "/\(split)/\(set)__\($0).npy" } }
        }
        var expected: [String] = ["/build_info.json", "/identifiers.json"]
        expected += arrays("test", ["c4", "c8"])
        expected += ["/test/dataset.json", "/test_puzzles.json"]
        expected += arrays("train", ["c30", "c4", "c8"])
        expected.append("/train/dataset.json")
        XCTAssertEqual(files, expected)

        // build_info.json: canvas 30 (positions), the bucket list, tasks per bucket, the label that does not fit.
        let info = try BuiltDataset.readJSON(out.appendingPathComponent("build_info.json"))
        XCTAssertEqual(info["canvas"], .int(30))
        XCTAssertEqual(info["canvas_buckets"], .array([.int(4), .int(8), .int(30)]))
        XCTAssertEqual(info["tasks_per_bucket"], .object([("c4", .int(2)), ("c8", .int(2)), ("c30", .int(1))]))
        XCTAssertEqual(info["test_outputs_not_fitting"], .int(1))
        XCTAssertEqual(info["num_aug"], .int(6))

        let dataset = try BuiltDataset(directory: out)
        XCTAssertEqual(dataset.canvas, 30)
        XCTAssertEqual(dataset.canvasBuckets, [4, 8, 30])
        let train = try dataset.split("train"), test = try dataset.split("test")
        XCTAssertEqual(train.metadata.seqLen, 900)
        XCTAssertEqual(train.metadata.sets, ["c4", "c8", "c30"])
        XCTAssertEqual(train.metadata.canvasSides, ["c4": 4, "c8": 8, "c30": 30])
        XCTAssertEqual(test.metadata.sets, ["c4", "c8"])
        XCTAssertEqual(train.orderedSubsets.map(\.side), [4, 8, 30])
        XCTAssertEqual(train.orderedSubsets.map(\.tokensPerExample), [16, 64, 900])
        XCTAssertEqual(train.orderedSubsets.map(\.seqLen), [900, 900, 900])
        XCTAssertEqual(train.metadata.totalGroups, 5)
        XCTAssertEqual(test.metadata.totalGroups, 2)
        XCTAssertEqual(train.metadata.totalPuzzles, 5 * 7)
        // Train examples per puzzle: small 3, medium 2, large 3, evalsmall 2, evalmedium 1.
        XCTAssertEqual(train.metadata.meanPuzzleExamples, Double(7 * (3 + 2 + 3 + 2 + 1)) / 35, accuracy: 1e-12)
        XCTAssertEqual(try train.subset("c4").groupIndices, [0, 7, 14])
        XCTAssertEqual(try train.subset("c30").exampleCount, 7 * 3)

        // Identifiers are global: every puzzle of a task's group is in exactly one set; a test
        // puzzle has the identifier of the same puzzle in the train split (and the same set).
        var setOfIdentifier = [Int: String]()
        for subset in train.orderedSubsets {
            for p in 0..<subset.puzzleCount {
                XCTAssertNil(setOfIdentifier.updateValue(subset.name, forKey: subset.identifier(ofPuzzle: p)), "identifier in two sets")
            }
        }
        XCTAssertEqual(setOfIdentifier.count, 35)
        XCTAssertEqual(Set(setOfIdentifier.keys), Set(1...35))
        let bucketOfTask = ["small": "c4", "medium": "c8", "large": "c30", "evalsmall": "c4", "evalmedium": "c8"]
        for (identifier, set) in setOfIdentifier {
            XCTAssertEqual(bucketOfTask[dataset.augmentation(identifier: identifier).task], set)
        }
        for subset in test.orderedSubsets {
            for p in 0..<subset.puzzleCount { XCTAssertEqual(setOfIdentifier[subset.identifier(ofPuzzle: p)], subset.name) }
        }

        // Every train example decodes (located, on its bucket) and undoes to its original pair,
        // with the whole EOS border inside the bucket.
        let originals = Dictionary(uniqueKeysWithValues: bucketInputs().flatMap { set in
            set.set.tasks.map { ($0.id, set.role == .training ? $0.train + $0.test : $0.train) }
        })
        for subset in train.orderedSubsets {
            let side = try XCTUnwrap(subset.side)
            for p in 0..<subset.puzzleCount {
                let (task, aug) = dataset.augmentation(identifier: subset.identifier(ofPuzzle: p))
                for (k, e) in subset.examples(ofPuzzle: p).enumerated() {
                    let input = Array(subset.input(e)), label = Array(subset.label(e))
                    XCTAssertEqual(input.count, side * side)
                    let decoded = SequenceCodec.decodeLocated(tokens: input, canvas: side)
                    XCTAssertEqual(decoded.map { aug.undo(on: $0) }, originals[task]![k].input, "\(task) example \(k)")
                    XCTAssertEqual(SequenceCodec.decodeLocated(tokens: label, canvas: side).map { aug.undo(on: $0) }, originals[task]![k].output)
                    if side < 30, let g = decoded {
                        XCTAssertEqual(input.filter { $0 == SequenceCodec.eosToken }.count, g.rows + g.cols, "\(task): EOS border inside the bucket")
                    }
                }
            }
        }
        // Test split: at (0, 0); the 7x7 label of evalsmall is the 4x4 crop of its board encoding.
        let testTasks = Dictionary(uniqueKeysWithValues: bucketInputs()[1].set.tasks.map { ($0.id, $0) })
        var croppedLabels = 0
        for subset in test.orderedSubsets {
            let side = try XCTUnwrap(subset.side)
            for p in 0..<subset.puzzleCount {
                let (task, aug) = dataset.augmentation(identifier: subset.identifier(ofPuzzle: p))
                for (k, e) in subset.examples(ofPuzzle: p).enumerated() {
                    let original = testTasks[task]!.test[k]
                    XCTAssertEqual(SequenceCodec.decode(tokens: subset.input(e), canvas: side).map { aug.undo(on: $0) }, original.input)
                    guard let output = original.output else {
                        XCTAssertTrue(subset.label(e).allSatisfy { $0 == 0 }, "unknown output: all PAD")
                        continue
                    }
                    let board = SequenceCodec.encode(grid: aug.apply(to: output))
                    XCTAssertEqual(Array(subset.label(e)), crop(board, side: side))
                    if max(output.rows, output.cols) >= side { croppedLabels += 1 }
                }
            }
        }
        XCTAssertEqual(croppedLabels, 7, "the 7x7 label in each of the 7 puzzles of evalsmall")

        // numpy reads the bucket arrays with their side x side rows.
        let shapes = try TestSupport.python("""
            import numpy as np, sys
            d = sys.argv[1]
            for s in ["c4", "c8", "c30"]:
                a = np.load(f"{d}/train/{s}__inputs.npy"); print(s, a.shape[0], a.shape[1], a.dtype)
            """, [out.path])
        XCTAssertEqual(shapes, "c4 35 16 uint8\nc8 21 64 uint8\nc30 21 900 uint8\n")
    }

    func testTasksNoBucketHoldsAreLeftOutAndListed() throws {
        let dir = try TestSupport.temporaryDirectory("bucketsleft")
        defer { try? FileManager.default.removeItem(at: dir) }
        let summary = try DatasetBuilder.build(inputs: bucketInputs(), options: bucketOptions([4, 8], numAug: 1),
                                               output: dir.appendingPathComponent("b"))
        XCTAssertEqual(summary.leftOut.map(\.task), ["large"])
        XCTAssertTrue(summary.leftOut[0].reason.contains("largest bucket 8"), summary.leftOut[0].reason)
        XCTAssertEqual(summary.tasksPerBucket, [4: 2, 8: 2])
        XCTAssertThrowsError(try DatasetBuilder.build(inputs: bucketInputs(), options: bucketOptions([8, 4]), output: dir.appendingPathComponent("c"))) {
            XCTAssertTrue("\($0)".contains("ascending"), "\($0)")
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("c").path))
    }

    func testBucketBuildIsDeterministic() throws {
        let dir = try TestSupport.temporaryDirectory("bucketsdet")
        defer { try? FileManager.default.removeItem(at: dir) }
        var outputs = [[String: Data]]()
        for (threads, chunkBytes, seed) in [(2, 4 << 20, UInt64(3)), (1, 200, 3), (2, 1, 3), (2, 4 << 20, 4)] {
            var options = bucketOptions(numAug: 20, seed: seed)
            options.threads = threads
            options.chunkBytes = chunkBytes
            let out = dir.appendingPathComponent("b\(threads)-\(chunkBytes)-\(seed)")
            _ = try DatasetBuilder.build(inputs: bucketInputs(), options: options, output: out)
            outputs.append(try TestSupport.fileContents(out))
        }
        XCTAssertEqual(outputs[0].count, 30)
        for other in outputs[1...2] {
            for (file, bytes) in outputs[0] { XCTAssertTrue(other[file] == bytes, "\(file) depends on threads or chunking") }
        }
        XCTAssertNotEqual(outputs[0]["/train/c4__inputs.npy"], outputs[3]["/train/c4__inputs.npy"], "another seed, other bytes")
    }
}
