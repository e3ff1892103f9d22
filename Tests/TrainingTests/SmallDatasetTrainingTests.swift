// Training on datasets so small that one epoch (one puzzle per group) holds fewer examples than
// the preset's batch: `train --preset cpu` (batch 16) on 3 tasks and `train-eval` on 2 tasks
// must train (the sampler fills each batch over several epochs), not trap.
import Foundation
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
}
