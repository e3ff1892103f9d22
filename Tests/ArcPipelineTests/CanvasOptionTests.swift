// The `--canvas` option of build-dataset and train-eval (docs/DESIGN.md "Canvas buckets"): bad
// values are refused with one error line naming the option; `--canvas auto` and a list build a
// bucket dataset end to end with its default name; train-eval reuses a built dataset only when
// its canvas and bucket list match.
import ARCAugment
import ARCCore
import Foundation
import TestHelpers
import XCTest

final class CanvasOptionTests: XCTestCase {
    /// Tasks of several sizes: `tasks/` (a folder source) and the same as fetched ARC-AGI-2 data.
    static func writeTasks(_ root: URL) throws {
        func grid(_ rows: Int, _ cols: Int, _ k: Int) -> String {
            "[" + (0..<rows).map { i in "[" + (0..<cols).map { j in String((i * 7 + j * 3 + k) % 10) }.joined(separator: ", ") + "]" }
                .joined(separator: ", ") + "]"
        }
        for (t, side) in [3, 6, 13, 25].enumerated() {
            let task = "{\"train\": [{\"input\": \(grid(side, side - 1, t)), \"output\": \(grid(side, side - 1, t + 1))}, "
                + "{\"input\": \(grid(2, 2, t)), \"output\": \(grid(2, 2, t + 2))}], "
                + "\"test\": [{\"input\": \(grid(side - 1, side, t)), \"output\": \(grid(side - 1, side, t + 3))}]}"
            try root.write(task, to: "tasks/t\(t).json")
            try root.write(task, to: "data/arc-agi-2/training/tr\(t).json")
            try root.write(task, to: "data/arc-agi-2/evaluation/ev\(t).json")
        }
    }

    func testBadCanvasValuesAreRefused() throws {
        let prepare: (URL) throws -> Void = { try Self.writeTasks($0) }
        var cases = [HostileCase]()
        let values = ["0", "31", "-1", "10,5", "10,10", "abc", "", "10,,20", ",10", "10,", "1,30", "8,31", "auto,30", "AUTO", "1e1", "0x10",
                      "99999999999999999999999", "10;20", " "]
        for value in values {
            cases.append(HostileCase(name: "build-dataset --canvas=\(value)",
                                     arguments: ["build-dataset", "--train", "./tasks", "--out", "built", "--quiet", "--canvas=\(value)"],
                                     errorMentions: ["--canvas"], prepare: prepare))
        }
        for value in ["0", "10,5", "abc", ""] {
            cases.append(HostileCase(name: "train-eval --canvas=\(value)",
                                     arguments: ["train-eval", "--data-dir", "data", "--dataset", "arc2", "--num-aug", "1", "--max-steps", "1",
                                                 "--out", "sub", "--canvas=\(value)"],
                                     errorMentions: ["--canvas"], prepare: prepare))
        }
        // The allowed values are named (ranges and the auto list).
        cases.append(HostileCase(name: "build-dataset --canvas 31 names the ranges", arguments: ["build-dataset", "--train", "./tasks", "--canvas", "31"],
                                 errorMentions: ["--canvas", "1...30", "auto", "2...30", "8,12,16,20,24,30"], prepare: prepare))
        try HostileInputHarness.check(cases)
    }

    func sandbox() throws -> URL {
        let root = try HostileInputHarness.makeSandbox()
        addTeardownBlock { try? FileManager.default.removeItem(at: root) }
        try Self.writeTasks(root)
        return root
    }

    func testBuildDatasetCanvasAutoEndToEnd() throws {
        let root = try sandbox()
        let run = try PipelineExecutable.run(["build-dataset", "--train", "./tasks", "--eval", "./tasks", "--data-dir", "data",
                                              "--canvas", "auto", "--num-aug", "2", "--threads", "1"], in: root)
        XCTAssertEqual(run.status, 0, run.stderr)
        // Largest sides 3, 6, 13, 25 -> needs 4, 7, 14, 26 -> c8, c8, c16, c30, each task twice (training role, and
        // evaluation role where the test output shape is predicted from the demonstrations: they keep their shapes).
        let out = root.appendingPathComponent("data/built/custom-aug2-cauto")
        XCTAssertTrue(run.stdout.contains("built \(out.path)"), run.stdout)
        XCTAssertTrue(run.stdout.contains("canvas buckets: c8 4 tasks, c16 2 tasks, c30 2 tasks"), run.stdout)
        let dataset = try BuiltDataset(directory: out)
        XCTAssertEqual(dataset.canvasBuckets, CanvasBuckets.auto)
        let train = try dataset.split("train"), test = try dataset.split("test")
        XCTAssertEqual(train.metadata.sets, ["c8", "c16", "c30"])
        XCTAssertEqual(test.metadata.sets, ["c8", "c16", "c30"])
        XCTAssertEqual(train.orderedSubsets.map(\.tokensPerExample), [64, 256, 900])
        XCTAssertEqual(train.metadata.seqLen, 900)
        XCTAssertEqual(dataset.testPuzzles.count, 4)
        for subset in test.orderedSubsets {
            let side = try XCTUnwrap(subset.side)
            for e in 0..<subset.exampleCount {
                let name = dataset.puzzleName(identifier: subset.identifier(ofPuzzle: subset.puzzle(ofExample: e)))
                let (task, aug) = Augmentation.parse(puzzleName: name)
                let original = try XCTUnwrap(dataset.testPuzzle(named: task)).test[0]
                XCTAssertEqual(SequenceCodec.decode(tokens: subset.input(e), canvas: side).map { aug.undo(on: $0) }, original.input)
                XCTAssertEqual(SequenceCodec.decode(tokens: subset.label(e), canvas: side).map { aug.undo(on: $0) }, original.output)
            }
        }

        // A list: its own default name, and the same bucket of each task where the list allows.
        let list = try PipelineExecutable.run(["build-dataset", "--train", "./tasks", "--data-dir", "data", "--canvas", "4,16,30",
                                               "--num-aug", "1", "--quiet"], in: root)
        XCTAssertEqual(list.status, 0, list.stderr)
        XCTAssertTrue(list.stdout.contains("canvas buckets: c4 1 tasks, c16 2 tasks, c30 1 tasks"), list.stdout)
        let listed = try BuiltDataset(directory: root.appendingPathComponent("data/built/custom-aug1-c4-16-30"))
        XCTAssertEqual(try listed.split("train").metadata.canvasSides, ["c4": 4, "c16": 16, "c30": 30])
        // A single small canvas keeps its layout and name.
        let small = try PipelineExecutable.run(["build-dataset", "--train", "./tasks", "--data-dir", "data", "--canvas", "10",
                                                "--num-aug", "1", "--quiet"], in: root)
        XCTAssertEqual(small.status, 0, small.stderr)
        let smallSet = try BuiltDataset(directory: root.appendingPathComponent("data/built/custom-aug1-c10"))
        XCTAssertEqual(try smallSet.split("train").metadata.sets, ["all"])
        XCTAssertNil(try smallSet.split("train").metadata.canvasSides)
        XCTAssertTrue(small.stdout.contains("tasks left out: 2"), small.stdout)
    }

    /// train-eval's stage 1 line for a run with `--canvas canvas` (the later stages are not looked at).
    func datasetStage(_ root: URL, canvas: String) throws -> String {
        let run = try PipelineExecutable.run(["train-eval", "--data-dir", "data", "--dataset", "arc2", "--num-aug", "1", "--canvas", canvas,
                                              "--max-steps", "1", "--hidden-size", "8", "--heads", "2", "--h-layers", "1", "--l-layers", "1",
                                              "--h-cycles", "1", "--l-cycles", "1", "--halt-max-steps", "1", "--threads", "1", "--out", "sub"], in: root)
        guard let line = run.stdout.split(separator: "\n").first(where: { $0.hasPrefix("[1/3] dataset:") }) else {
            XCTFail("no dataset stage line for --canvas \(canvas): \(run.stdout)\n\(run.stderr)")
            return ""
        }
        return String(line)
    }

    func testTrainEvalReusesADatasetOnlyWithTheSameBuckets() throws {
        let root = try sandbox()
        let built = root.appendingPathComponent("data/built")
        XCTAssertTrue(try datasetStage(root, canvas: "auto").contains("dataset: built \(built.path)/arc2-aug1-cauto-s42"))
        XCTAssertTrue(try datasetStage(root, canvas: "auto").contains("dataset: reusing"))
        let fm = FileManager.default
        // The bucket dataset under the name of the 30-only one: not reused for --canvas 30.
        try fm.copyItem(at: built.appendingPathComponent("arc2-aug1-cauto-s42"), to: built.appendingPathComponent("arc2-aug1-s42"))
        XCTAssertTrue(try datasetStage(root, canvas: "30").contains("dataset: built"))
        XCTAssertNil(try BuiltDataset(directory: built.appendingPathComponent("arc2-aug1-s42")).canvasBuckets, "rebuilt on 30x30")
        // And the other way round, and another bucket list.
        try fm.removeItem(at: built.appendingPathComponent("arc2-aug1-cauto-s42"))
        try fm.copyItem(at: built.appendingPathComponent("arc2-aug1-s42"), to: built.appendingPathComponent("arc2-aug1-cauto-s42"))
        XCTAssertTrue(try datasetStage(root, canvas: "auto").contains("dataset: built"))
        try fm.copyItem(at: built.appendingPathComponent("arc2-aug1-cauto-s42"), to: built.appendingPathComponent("arc2-aug1-c8-12-16-20-24-30-s42"))
        XCTAssertTrue(try datasetStage(root, canvas: "8,12,16,20,24,30").contains("dataset: reusing"), "the same list as auto")
        try fm.copyItem(at: built.appendingPathComponent("arc2-aug1-cauto-s42"), to: built.appendingPathComponent("arc2-aug1-c8-16-30-s42"))
        XCTAssertTrue(try datasetStage(root, canvas: "8,16,30").contains("dataset: built"), "another list")
    }
}
