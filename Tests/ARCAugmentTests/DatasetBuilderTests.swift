// The dataset builder and reader (docs/SPEC.md §2-3, docs/DESIGN.md "Formats"): synthetic tasks for the
// layout rules, and the whole arc1 preset at 8 augmentations for the acceptance checks (numpy
// loads every array; every example undoes to its original pair; eval test inputs sit in the test
// split under their train-split puzzles' identifiers; determinism).
import ARCAugment
import ARCCore
import XCTest
import TestHelpers

final class DatasetBuilderTests: XCTestCase {
    func grid(_ rows: [[Int]]) -> Grid { try! Grid(validating: rows) }

    func syntheticInputs() -> [RoledTaskSet] {
        var rng = Xoshiro256StarStar(seed: 30)
        func randomPair(_ r: Int, _ c: Int) -> Pair {
            Pair(input: TestSupport.randomGrid(rows: r, cols: c, using: &rng), output: TestSupport.randomGrid(rows: c, cols: r, using: &rng))
        }
        let training = TaskSet(name: "synthetic:training", tasks: [
            ARCTask(id: "aaaa0001", train: [randomPair(3, 4), randomPair(2, 2)], test: [randomPair(5, 1)]),
            ARCTask(id: "aaaa0002", train: [randomPair(30, 30)], test: [randomPair(12, 3)]),  // too big for canvas 12
            ARCTask(id: "bbbb0001", train: [randomPair(1, 1)], test: [randomPair(2, 3)]),     // clashes with an eval id
        ])
        let evaluation = TaskSet(name: "synthetic:evaluation", tasks: [
            ARCTask(id: "bbbb0001", train: [randomPair(4, 4), randomPair(6, 2), randomPair(1, 8)],
                    test: [randomPair(3, 3), Pair(input: TestSupport.randomGrid(rows: 2, cols: 5, using: &rng), output: nil)]),
        ])
        return [RoledTaskSet(set: training, role: .training), RoledTaskSet(set: evaluation, role: .evaluation)]
    }

    func testSyntheticLayoutSplitsIdentifiersAndLeftOut() throws {
        let dir = try TestSupport.temporaryDirectory("synthetic")
        defer { try? FileManager.default.removeItem(at: dir) }
        var options = DatasetBuildOptions()
        options.numAug = 5
        options.canvas = 12
        let out = dir.appendingPathComponent("built")
        let summary = try DatasetBuilder.build(inputs: syntheticInputs(), options: options, output: out)
        XCTAssertEqual(summary.leftOut.map(\.task), ["aaaa0002"])
        XCTAssertTrue(summary.leftOut[0].reason.contains("30x30"))
        XCTAssertEqual(summary.renamed.map(\.from), ["bbbb0001"])
        XCTAssertEqual(summary.renamed.map(\.to), ["bbbb0001-synthetic-training"])
        XCTAssertEqual(summary.tasks, 3)
        XCTAssertEqual(summary.identifiers, 1 + 3 * 6, "3 groups of 6 puzzles plus the blank")

        let dataset = try BuiltDataset(directory: out)
        XCTAssertEqual(dataset.splitNames, ["train", "test"])
        XCTAssertEqual(dataset.identifiers.count, 19)
        XCTAssertEqual(dataset.identifiers[0], "<blank>")
        XCTAssertEqual(Array(dataset.identifiers[1...2]), ["aaaa0001", dataset.identifiers[2]])
        XCTAssertTrue(dataset.identifiers[2].hasPrefix("aaaa0001_t"))
        XCTAssertEqual(dataset.identifiers[7], "bbbb0001-synthetic-training")
        XCTAssertEqual(dataset.identifiers[13], "bbbb0001")
        XCTAssertEqual(dataset.testPuzzles.map(\.name), ["bbbb0001"])
        XCTAssertNil(dataset.testPuzzle(named: "bbbb0001")!.test[1].output)

        let train = try dataset.split("train"), test = try dataset.split("test")
        XCTAssertEqual(train.metadata.seqLen, 144)
        XCTAssertEqual(train.metadata.vocabSize, 12)
        XCTAssertEqual(train.metadata.numPuzzleIdentifiers, 19)
        XCTAssertEqual(train.metadata.totalGroups, 3)
        XCTAssertEqual(train.metadata.sets, ["all"])
        let t = try train.subset()
        // Group sizes 6, examples per puzzle: 3 (2 train + 1 test), 2 (1 + 1), 3 (eval demos).
        XCTAssertEqual(t.groupIndices, [0, 6, 12, 18])
        XCTAssertEqual(Array(t.puzzleIndices.prefix(8)), [0, 3, 6, 9, 12, 15, 18, 20])
        XCTAssertEqual(t.puzzleIdentifiers, (1...18).map { Int32($0) })
        XCTAssertEqual(t.exampleCount, 6 * 3 + 6 * 2 + 6 * 3)
        XCTAssertEqual(train.metadata.meanPuzzleExamples, Double(48) / 18)
        XCTAssertEqual(t.puzzle(ofExample: 0), 0)
        XCTAssertEqual(t.puzzle(ofExample: 19), 6)
        XCTAssertEqual(t.puzzle(ofExample: 47), 17)

        let s = try test.subset()
        XCTAssertEqual(test.metadata.totalGroups, 1)
        XCTAssertEqual(s.puzzleIdentifiers, (13...18).map { Int32($0) }, "test puzzles reuse the train-split identifiers")
        XCTAssertEqual(s.exampleCount, 12)
        for e in 0..<s.exampleCount {
            let name = dataset.puzzleName(identifier: s.identifier(ofPuzzle: s.puzzle(ofExample: e)))
            let (task, aug) = Augmentation.parse(puzzleName: name)
            XCTAssertEqual(task, "bbbb0001")
            let original = dataset.testPuzzle(named: task)!.test[e % 2]
            // Test split: always at (0, 0).
            XCTAssertEqual(SequenceCodec.decode(tokens: s.input(e), canvas: 12).map { aug.undo(on: $0) }, original.input)
            if let output = original.output {
                XCTAssertEqual(SequenceCodec.decode(tokens: s.label(e), canvas: 12).map { aug.undo(on: $0) }, output)
            } else {
                XCTAssertTrue(s.label(e).allSatisfy { $0 == 0 }, "unknown outputs are all-PAD labels")
            }
        }
    }

    func testLeaksAreReported() throws {
        let secret = Pair(input: grid([[1, 2], [3, 4]]), output: grid([[5]]))
        let evaluation = TaskSet(name: "e", tasks: [ARCTask(id: "dddd0001", train: [Pair(input: grid([[1]]), output: grid([[2]]))], test: [secret])])
        let training = TaskSet(name: "t", tasks: [
            ARCTask(id: "copy", train: [Pair(input: grid([[7]]), output: grid([[8]])), secret], test: [Pair(input: grid([[6]]), output: grid([[6]]))]),
            ARCTask(id: "clean", train: [Pair(input: grid([[1, 2]]), output: grid([[5]]))], test: [Pair(input: grid([[6]]), output: grid([[6]]))]),
        ])
        let dir = try TestSupport.temporaryDirectory("leaks")
        defer { try? FileManager.default.removeItem(at: dir) }
        var options = DatasetBuildOptions()
        options.numAug = 2
        let summary = try DatasetBuilder.build(inputs: [RoledTaskSet(set: training, role: .training), RoledTaskSet(set: evaluation, role: .evaluation)],
                                               options: options, output: dir.appendingPathComponent("b"))
        XCTAssertEqual(summary.leaks.map(\.training), ["copy"])
        XCTAssertEqual(summary.leaks.map(\.evaluation), ["dddd0001"])
    }

    func testTrainingSetsNeedOutputs() throws {
        let task = ARCTask(id: "cccc0001", train: [Pair(input: grid([[1]]), output: grid([[2]]))], test: [Pair(input: grid([[3]]), output: nil)])
        let dir = try TestSupport.temporaryDirectory("nooutput")
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertThrowsError(try DatasetBuilder.build(inputs: [RoledTaskSet(set: TaskSet(name: "x", tasks: [task]), role: .training)],
                                                      options: DatasetBuildOptions(), output: dir.appendingPathComponent("b"))) {
            XCTAssertTrue("\($0)".contains("cccc0001") && "\($0)".contains("test[0].output"), "\($0)")
        }
    }

    /// A task id that reads as another task's augmented puzzle (`<task>_t<tid>_<map>`) would have its
    /// original puzzle voted for that task: refused by every reader, naming the file (or set) and the id.
    func testTaskIdsThatReadAsAugmentedPuzzleNamesAreRefused() throws {
        let dir = try TestSupport.temporaryDirectory("augmented-ids")
        defer { try? FileManager.default.removeItem(at: dir) }
        let taskText = #"{"train": [{"input": [[1]], "output": [[2]]}], "test": [{"input": [[1]], "output": [[2]]}]}"#
        func task(_ id: String) -> ARCTask { ARCTask(id: id, train: [Pair(input: grid([[1]]), output: grid([[2]]))], test: [Pair(input: grid([[1]]), output: grid([[2]]))]) }
        func assertRefused(_ file: String, _ id: String, line: UInt = #line, _ body: () throws -> Void) {
            XCTAssertThrowsError(try body(), line: line) { error in
                guard let e = error as? ARCDataError else { return XCTFail("\(error)", line: line) }
                XCTAssertEqual(e.file, file, line: line)
                XCTAssertEqual(e.task, id, line: line)
                XCTAssertTrue(e.message.contains("augmented puzzle of task \"abc\""), e.description, line: line)
            }
        }

        // A folder of task files.
        let folder = dir.appendingPathComponent("tasks")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for id in ["abc", "abc_t1_0123456789"] { try Data(taskText.utf8).write(to: folder.appendingPathComponent("\(id).json")) }
        assertRefused(folder.appendingPathComponent("abc_t1_0123456789.json").path, "abc_t1_0123456789") {
            _ = try DatasetInputs.load(label: folder.path, dataDirectory: dir)
        }
        // A Kaggle challenges file (the identity map and dihedral 0 too: the name still is not the task's own).
        let kaggle = dir.appendingPathComponent("data/kaggle")
        try FileManager.default.createDirectory(at: kaggle, withIntermediateDirectories: true)
        let challenges = kaggle.appendingPathComponent("arc-agi_evaluation_challenges.json")
        for id in ["abc_t1_0381249765", "abc_t0_0123456789"] {
            try Data(#"{"abc": \#(taskText), "\#(id)": \#(taskText)}"#.utf8).write(to: challenges)
            assertRefused(challenges.path, id) { _ = try DatasetInputs.load(label: "kaggle:evaluation", dataDirectory: dir.appendingPathComponent("data")) }
        }
        // Sets made in code, in either role.
        for role in [SetRole.training, .evaluation] {
            assertRefused("set", "abc_t7_0987654321") {
                _ = try DatasetBuilder.build(inputs: [RoledTaskSet(set: TaskSet(name: "set", tasks: [task("abc"), task("abc_t7_0987654321")]), role: role)],
                                             options: DatasetBuildOptions(), output: dir.appendingPathComponent("b"))
            }
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("b").path))

        // Ids with a suffix that is no augmentation stay tasks of their own (Augmentation.parse keeps them whole).
        let harmless = ["abc_t8_0123456789", "abc_t1_1023456789", "abc_t1_012345678", "abc_t1_0123456788", "abc_T1_0123456789",
                        "abc_t1_0123456789_x", "abc-t1-0123456789", "_t1", "t1_0123456789"]
        for id in harmless { XCTAssertFalse(Augmentation.isAugmentedName(id), id) }
        var options = DatasetBuildOptions()
        options.numAug = 1
        let summary = try DatasetBuilder.build(inputs: [RoledTaskSet(set: TaskSet(name: "set", tasks: (["abc"] + harmless).map(task)), role: .evaluation)],
                                               options: options, output: dir.appendingPathComponent("b"))
        XCTAssertEqual(summary.tasks, harmless.count + 1)
    }

    // MARK: - The whole arc1 preset

    func arc1Inputs() throws -> [RoledTaskSet] {
        let data = try TestSupport.arcDataDirectory()
        let preset = DatasetPreset.named("arc1")!
        return try DatasetInputs.load(labels: preset.training, role: .training, dataDirectory: data)
            + DatasetInputs.load(labels: preset.evaluation, role: .evaluation, dataDirectory: data)
    }

    func buildArc1(seed: UInt64, threads: Int = 2, into dir: URL, _ label: String) throws -> URL {
        var options = DatasetBuildOptions()
        options.numAug = 8
        options.seed = seed
        options.threads = threads
        let out = dir.appendingPathComponent(label)
        _ = try DatasetBuilder.build(inputs: try arc1Inputs(), options: options, output: out)
        return out
    }

    func testArc1NumpyLoadsEveryArray() throws {
        let dir = try TestSupport.temporaryDirectory("arc1numpy")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = try buildArc1(seed: 42, into: dir, "arc1")
        let script = """
        import sys, json, numpy as np
        d = sys.argv[1]
        ids = json.load(open(d + '/identifiers.json'))
        assert ids[0] == '<blank>'
        for split in ('train', 'test'):
            meta = json.load(open(f'{d}/{split}/dataset.json'))
            assert meta['sets'] == ['all'] and meta['seq_len'] == 900 and meta['vocab_size'] == 12, meta
            assert meta['pad_id'] == 0 and meta['ignore_label_id'] == 0 and meta['blank_identifier_id'] == 0, meta
            assert meta['num_puzzle_identifiers'] == len(ids), meta
            a = {k: np.load(f'{d}/{split}/all__{k}.npy', mmap_mode='r') for k in
                 ('inputs', 'labels', 'puzzle_identifiers', 'puzzle_indices', 'group_indices')}
            n = a['inputs'].shape[0]
            assert a['inputs'].dtype == np.uint8 and a['inputs'].shape == (n, 900)
            assert a['labels'].dtype == np.uint8 and a['labels'].shape == (n, 900)
            p = a['puzzle_identifiers'].shape[0]
            assert a['puzzle_identifiers'].dtype == np.int32 and a['puzzle_identifiers'].ndim == 1
            assert a['puzzle_indices'].dtype == np.int32 and a['puzzle_indices'].shape == (p + 1,)
            assert a['group_indices'].dtype == np.int32 and a['group_indices'].shape == (meta['total_groups'] + 1,)
            assert a['puzzle_indices'][0] == 0 and a['puzzle_indices'][-1] == n and np.all(np.diff(a['puzzle_indices']) > 0)
            assert a['group_indices'][0] == 0 and a['group_indices'][-1] == p and np.all(np.diff(a['group_indices']) > 0)
            assert a['puzzle_identifiers'].min() >= 1 and a['puzzle_identifiers'].max() < len(ids)
            assert int(a['inputs'].max()) <= 11 and int(a['labels'].max()) <= 11
            assert abs(meta['mean_puzzle_examples'] - n / p) < 1e-9, meta
            print(split, n, p, meta['total_groups'])
        tp = json.load(open(d + '/test_puzzles.json'))
        assert len(tp) == 400 and all('train' in t and 'test' in t for t in tp.values())
        """
        let output = try TestSupport.python(script, [out.path])
        let lines = output.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, output)
        XCTAssertTrue(lines.first?.hasPrefix("train ") ?? false)
        // 960 tasks (400 + 160 + 400) in the train split, 400 eval tasks in the test split.
        XCTAssertTrue(lines[0].hasSuffix(" 960"), output)
        XCTAssertTrue(lines[1].hasSuffix(" 400"), output)
    }

    func testArc1EveryExampleUndoesToItsOriginalPair() throws {
        let dir = try TestSupport.temporaryDirectory("arc1undo")
        defer { try? FileManager.default.removeItem(at: dir) }
        let inputs = try arc1Inputs()
        var originals = [String: (task: ARCTask, isEvaluation: Bool)]()
        for input in inputs { for t in input.set.tasks { originals[t.id] = (t, input.role == .evaluation) } }
        XCTAssertEqual(originals.count, 960)
        let out = try buildArc1(seed: 42, into: dir, "arc1")
        let dataset = try BuiltDataset(directory: out)
        let train = try dataset.split("train").subset(), test = try dataset.split("test").subset()

        // Train split: every example, located, decoded and undone, is its original pair.
        var trainGroupIdentifiers = [String: Set<Int>]()
        var checked = 0, translated = 0
        for g in 0..<train.groupCount {
            var groupTask: String?
            for p in train.puzzles(ofGroup: g) {
                let identifier = train.identifier(ofPuzzle: p)
                let (task, aug) = dataset.augmentation(identifier: identifier)
                if groupTask == nil { groupTask = task }
                XCTAssertEqual(task, groupTask, "a group holds one task")
                trainGroupIdentifiers[task, default: []].insert(identifier)
                guard let (original, isEvaluation) = originals[task] else { XCTFail("unknown task \(task)"); continue }
                let pairs = isEvaluation ? original.train : original.train + original.test
                let range = train.examples(ofPuzzle: p)
                XCTAssertEqual(range.count, pairs.count, "puzzle \(dataset.puzzleName(identifier: identifier))")
                var atOrigin = 0
                for (k, e) in range.enumerated() where k < pairs.count {
                    guard let location = SequenceCodec.locate(tokens: train.input(e)) else { XCTFail("empty input \(e)"); continue }
                    XCTAssertTrue(SequenceCodec.locate(tokens: train.label(e))! == location, "input and output share the offset")
                    if location == (0, 0) { atOrigin += 1 } else { translated += 1 }
                    let input = SequenceCodec.decodeLocated(tokens: train.input(e)).map { aug.undo(on: $0) }
                    let output = SequenceCodec.decodeLocated(tokens: train.label(e)).map { aug.undo(on: $0) }
                    XCTAssertEqual(input, pairs[k].input, "example \(e) of \(dataset.puzzleName(identifier: identifier))")
                    XCTAssertEqual(output, pairs[k].output, "example \(e) of \(dataset.puzzleName(identifier: identifier))")
                    checked += 1
                }
                XCTAssertGreaterThanOrEqual(atOrigin, 1, "one pair per puzzle stays at (0, 0)")
            }
        }
        XCTAssertEqual(checked, train.exampleCount)
        XCTAssertGreaterThan(translated, train.exampleCount / 2, "most train-split pairs are translated")
        XCTAssertEqual(Set(trainGroupIdentifiers.keys), Set(originals.keys))

        // Test split: every eval task's test inputs, under identifiers of its train-split puzzles.
        var seenTestInputs = [String: Set<Int>]()
        for p in 0..<test.puzzleCount {
            let identifier = test.identifier(ofPuzzle: p)
            let (task, aug) = dataset.augmentation(identifier: identifier)
            guard let (original, isEvaluation) = originals[task] else { XCTFail("unknown task \(task)"); continue }
            XCTAssertTrue(isEvaluation, "\(task) is not an evaluation task")
            XCTAssertTrue(trainGroupIdentifiers[task]?.contains(identifier) ?? false, "\(task): identifier \(identifier) not in its train-split group")
            let range = test.examples(ofPuzzle: p)
            XCTAssertEqual(range.count, original.test.count)
            for (k, e) in range.enumerated() where k < original.test.count {
                XCTAssertEqual(SequenceCodec.decode(tokens: test.input(e)).map { aug.undo(on: $0) }, original.test[k].input)
                XCTAssertEqual(SequenceCodec.decode(tokens: test.label(e)).map { aug.undo(on: $0) }, original.test[k].output)
                seenTestInputs[task, default: []].insert(k)
            }
        }
        for (id, (task, isEvaluation)) in originals where isEvaluation {
            XCTAssertEqual(seenTestInputs[id], Set(0..<task.test.count), "test inputs of \(id)")
            XCTAssertEqual(dataset.testPuzzle(named: id), task)
            // Every puzzle of the task's group is in the test split.
            let testIdentifiers = Set((0..<test.puzzleCount).map { test.identifier(ofPuzzle: $0) })
            XCTAssertTrue(trainGroupIdentifiers[id]!.isSubset(of: testIdentifiers))
        }
        XCTAssertEqual(dataset.testPuzzles.count, 400)
    }

    func testArc1SameSeedSameBytesOtherSeedDifferent() throws {
        let dir = try TestSupport.temporaryDirectory("arc1det")
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = try TestSupport.fileContents(try buildArc1(seed: 42, into: dir, "a"))
        let b = try TestSupport.fileContents(try buildArc1(seed: 42, threads: 1, into: dir, "b"))
        let c = try TestSupport.fileContents(try buildArc1(seed: 7, into: dir, "c"))
        XCTAssertEqual(a.keys.sorted(), ["/build_info.json", "/identifiers.json", "/test/all__group_indices.npy", "/test/all__inputs.npy",
                                         "/test/all__labels.npy", "/test/all__puzzle_identifiers.npy", "/test/all__puzzle_indices.npy",
                                         "/test/dataset.json", "/test_puzzles.json", "/train/all__group_indices.npy", "/train/all__inputs.npy",
                                         "/train/all__labels.npy", "/train/all__puzzle_identifiers.npy", "/train/all__puzzle_indices.npy",
                                         "/train/dataset.json"])
        for (file, bytes) in a { XCTAssertTrue(b[file] == bytes, "\(file) differs between two runs with seed 42 (2 threads vs 1)") }
        XCTAssertNotEqual(a["/train/all__inputs.npy"], c["/train/all__inputs.npy"])
        XCTAssertNotEqual(a["/identifiers.json"], c["/identifiers.json"])
        XCTAssertNotEqual(a["/test/all__inputs.npy"], c["/test/all__inputs.npy"])
        XCTAssertEqual(a["/test_puzzles.json"], c["/test_puzzles.json"], "the original test puzzles do not depend on the seed")
    }
}

final class DatasetBuilderStreamingTests: XCTestCase {
    /// Chunk size, window and thread count change how a group travels, never the bytes.
    func testChunkingAndThreadsDoNotChangeTheOutput() throws {
        var rng = Xoshiro256StarStar(seed: 40)
        func randomPair() -> Pair {
            Pair(input: TestSupport.randomGrid(rows: rng.nextInt(in: 1...9), cols: rng.nextInt(in: 1...9), using: &rng),
                 output: TestSupport.randomGrid(rows: rng.nextInt(in: 1...9), cols: rng.nextInt(in: 1...9), using: &rng))
        }
        let training = TaskSet(name: "t", tasks: (0..<6).map { ARCTask(id: "t\($0)", train: [randomPair(), randomPair()], test: [randomPair()]) })
        let evaluation = TaskSet(name: "e", tasks: (0..<4).map { ARCTask(id: "e\($0)", train: [randomPair(), randomPair(), randomPair()], test: [randomPair()]) })
        let inputs = [RoledTaskSet(set: training, role: .training), RoledTaskSet(set: evaluation, role: .evaluation)]
        let dir = try TestSupport.temporaryDirectory("chunks")
        defer { try? FileManager.default.removeItem(at: dir) }
        var outputs = [[String: Data]]()
        for (chunkBytes, threads, window) in [(4 << 20, 2, 4), (1, 2, 1), (5000, 1, 2), (20000, 2, 8)] {
            var options = DatasetBuildOptions()
            options.numAug = 60
            options.canvas = 10
            options.chunkBytes = chunkBytes
            options.threads = threads
            options.window = window
            let out = dir.appendingPathComponent("c\(chunkBytes)-\(threads)-\(window)")
            let summary = try DatasetBuilder.build(inputs: inputs, options: options, output: out)
            XCTAssertEqual(summary.identifiers, 1 + 10 * 61)
            outputs.append(try TestSupport.fileContents(out))
        }
        XCTAssertEqual(outputs[0].count, 15)
        for other in outputs.dropFirst() {
            for (file, bytes) in outputs[0] { XCTAssertTrue(other[file] == bytes, "\(file) depends on chunking or threads") }
        }
    }

    // MARK: The `arc-pipeline build-dataset` command (run as the executable `swift test` builds).

    func runPipeline(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try PipelineExecutable.run(arguments)
    }

    func testCommandBuildsPresetWithSmallCanvasAndListsLeftOutTasks() throws {
        let data = try TestSupport.arcDataDirectory()
        let dir = try TestSupport.temporaryDirectory("command")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("small")
        let run = try runPipeline(["build-dataset", "--preset", "arc1", "--data-dir", data.path, "--out", out.path,
                                   "--num-aug", "3", "--canvas", "10", "--max-tasks", "5", "--seed", "9"])
        XCTAssertEqual(run.status, 0, run.stderr)
        XCTAssertTrue(run.stdout.contains("built \(out.path)"), run.stdout)
        XCTAssertTrue(run.stdout.contains("train: 15 groups"), run.stdout)
        XCTAssertTrue(run.stdout.contains("test: 5 groups"), run.stdout)
        XCTAssertTrue(run.stdout.contains("tasks left out:") && run.stdout.contains("larger than the 10x10 canvas"), run.stdout)
        XCTAssertTrue(run.stderr.contains("tasks 15/15"), "progress lines on stderr: \(run.stderr)")
        let dataset = try BuiltDataset(directory: out)
        XCTAssertEqual(try dataset.split("train").metadata.seqLen, 100)
        XCTAssertEqual(dataset.testPuzzles.count, 5)

        let bad = try runPipeline(["build-dataset", "--train", "no-such-source", "--data-dir", data.path, "--out", dir.appendingPathComponent("bad").path])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertTrue(bad.stderr.contains("unknown task source"), bad.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("bad").path))
        // A data folder holding only ARC-AGI-1: the arc2 preset names what to fetch.
        let partial = dir.appendingPathComponent("partial-data")
        try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
        try FileManager.default.createSymbolicLink(at: partial.appendingPathComponent("arc-agi-1"), withDestinationURL: data.appendingPathComponent("arc-agi-1"))
        let missing = try runPipeline(["build-dataset", "--preset", "arc2", "--data-dir", partial.path, "--out", dir.appendingPathComponent("arc2").path])
        XCTAssertNotEqual(missing.status, 0)
        XCTAssertTrue(missing.stderr.contains("arc-pipeline fetch"), missing.stderr)
    }
}
