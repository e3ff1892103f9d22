// Training on datasets so small that one epoch (one puzzle per group) holds fewer examples than
// the preset's batch: `train --preset cpu` (batch 16) on 3 tasks and `train-eval` on 2 tasks
// must train (the sampler fills each batch over several epochs), not trap.
import Foundation
import TestHelpers
import XCTest

final class SmallDatasetTrainingTests: XCTestCase {
    func testTrainCpuPresetOnThreeTasks() throws {
        let root = try TinyTaskFiles.sandbox("small-train")
        defer { try? FileManager.default.removeItem(at: root) }
        try TinyTaskFiles.write(root.appendingPathComponent("tasks"), prefix: "t", count: 3)
        // 3 groups of 3 puzzles x 3 examples: 27 examples, but an epoch draws 9.
        try TinyTaskFiles.run(["build-dataset", "--train", root.appendingPathComponent("tasks").path,
                               "--canvas", "4", "--num-aug", "2", "--out", "built", "--quiet"], in: root)
        let (_, out, _) = try TinyTaskFiles.run(["train", "--preset", "cpu", "--dataset", "built", "--out", "run",
                                                 "--max-steps", "3", "--threads", "1", "--quiet"], in: root)
        XCTAssertTrue(out.contains("trained steps 0..3"), out)
    }

    func testTrainEvalOnTwoTasks() throws {
        let root = try TinyTaskFiles.sandbox("small-train-eval")
        defer { try? FileManager.default.removeItem(at: root) }
        try TinyTaskFiles.write(root.appendingPathComponent("data/arc-agi-2/training"), prefix: "tr", count: 2)
        try TinyTaskFiles.write(root.appendingPathComponent("data/arc-agi-2/evaluation"), prefix: "ev", count: 2)
        let (_, out, _) = try TinyTaskFiles.run(["train-eval", "--data-dir", "data", "--dataset", "arc2", "--canvas", "4", "--num-aug", "3",
                                                 "--hidden-size", "16", "--max-steps", "2", "--threads", "1", "--out", "sub"], in: root)
        XCTAssertTrue(out.contains("[2/3] train: steps 2"), out)
        XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent("sub/submission.json").path))
    }

    /// train-eval with canvas buckets 2, 3 and 4: the tiny tasks (grids of 1 to 3 cells a side) fall
    /// into several buckets; training draws from each and evaluation decodes each on its side.
    func testTrainEvalWithCanvasBuckets() throws {
        let root = try TinyTaskFiles.sandbox("small-buckets")
        defer { try? FileManager.default.removeItem(at: root) }
        try TinyTaskFiles.write(root.appendingPathComponent("data/arc-agi-2/training"), prefix: "tr", count: 3)
        try TinyTaskFiles.write(root.appendingPathComponent("data/arc-agi-2/evaluation"), prefix: "ev", count: 3)
        let (_, out, err) = try TinyTaskFiles.run(["train-eval", "--data-dir", "data", "--dataset", "arc2", "--canvas", "2,3,4", "--num-aug", "3",
                                                   "--hidden-size", "16", "--batch-size", "4", "--max-steps", "6", "--threads", "1",
                                                   "--out", "sub"], in: root)
        XCTAssertTrue(out.contains("[2/3] train: steps 6"), out)
        XCTAssertTrue(err.contains("in canvas buckets"), err)
        let built = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("data/built").path)
        let dataset = try XCTUnwrap(built.first { $0.contains("-c2-3-4") }, "\(built)")
        let sets = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("data/built/\(dataset)/train").path)
            .filter { $0.hasSuffix("__inputs.npy") }
        XCTAssertGreaterThan(sets.count, 1, "several buckets: \(sets)")
        let submission = try String(contentsOf: root.appendingPathComponent("sub/submission.json"), encoding: .utf8)
        for k in 0..<3 { XCTAssertTrue(submission.contains("\"ev\(k)\""), "ev\(k) in the submission") }
        // The run's state holds one sampler and carry per bucket.
        let runs = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("runs").path)
        let latest = try String(contentsOf: root.appendingPathComponent("runs/\(runs[0])/checkpoints/latest"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        let state = try Data(contentsOf: root.appendingPathComponent("runs/\(runs[0])/checkpoints/\(latest)/state.safetensors"))
        XCTAssertNotNil(state.range(of: Data("arc-pipeline-train-state-v2".utf8)))
    }

    /// train-eval --time-budget is the whole job's: training gets what is left after the dataset and
    /// the measured evaluation time, and the job ends within the budget; a budget that leaves no
    /// time to train is refused before training, with one error line.
    func testTrainEvalTimeBudgetCoversTheWholeJob() throws {
        let root = try TinyTaskFiles.sandbox("small-budget")
        defer { try? FileManager.default.removeItem(at: root) }
        try TinyTaskFiles.write(root.appendingPathComponent("data/arc-agi-2/training"), prefix: "tr", count: 2)
        try TinyTaskFiles.write(root.appendingPathComponent("data/arc-agi-2/evaluation"), prefix: "ev", count: 2)
        let base = ["train-eval", "--data-dir", "data", "--dataset", "arc2", "--num-aug", "2", "--hidden-size", "16", "--threads", "1"]

        let refused = try PipelineExecutable.run(base + ["--time-budget", "5s", "--out", "sub-refused"], in: root)
        XCTAssertNotEqual(refused.status, 0)
        let errors = refused.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }
        XCTAssertEqual(errors.count, 1, refused.stderr)
        XCTAssertTrue(errors.first?.contains("--time-budget 5s") ?? false, refused.stderr)
        XCTAssertTrue(errors.first?.contains("for training") ?? false, refused.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: root.appendingPathComponent("sub-refused/submission.json").path))

        let start = Date()
        let (_, out, _) = try TinyTaskFiles.run(base + ["--time-budget", "30s", "--out", "sub"], in: root)
        let wall = Date().timeIntervalSince(start)
        let line = try XCTUnwrap(out.split(separator: "\n").first { $0.hasPrefix("[2/3] train: ") && $0.contains("of the 30 s budget") }, out)
        let trainSeconds = try XCTUnwrap(Int(line.dropFirst("[2/3] train: ".count).prefix { $0.isNumber }), String(line))
        XCTAssertTrue((10...29).contains(trainSeconds), "training gets the budget minus the dataset and evaluation reserve: \(line)")
        XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent("sub/submission.json").path))
        XCTAssertLessThan(wall, 30 + 8, "the job keeps to its budget (plus process start-up): \(wall) s\n\(out)")
    }
}
