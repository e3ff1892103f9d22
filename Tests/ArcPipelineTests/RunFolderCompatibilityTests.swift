// Run folders through the executable: `train` writes config.json in the current layout, which the
// report reads (key hyperparameters); a run folder whose config.json has the earlier flat layout
// still resumes (its options are still enforced) and is still reported.
import ARCCore
import Foundation
import TestHelpers
import XCTest

final class RunFolderCompatibilityTests: XCTestCase {
    let model = ["--hidden-size", "16", "--heads", "2", "--halt-max-steps", "2", "--batch-size", "4", "--threads", "1"]

    func object(_ url: URL) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any], url.path)
    }

    /// The earlier writer's config.json for the same run: flat snake_case keys beside "model"
    /// (which held the trainer's batch size and exploration probability) and "trainer".
    func flatLayout(of current: [String: Any]) throws -> [String: Any] {
        let training = try XCTUnwrap(current["training"] as? [String: Any])
        var model = try XCTUnwrap(training["model"] as? [String: Any])
        let trainer = try XCTUnwrap(training["trainer"] as? [String: Any])
        model["batchSize"] = trainer["batchSize"]
        model["haltExplorationProbability"] = trainer["explorationProbability"]
        let numPuzzleIdentifiers = try XCTUnwrap(model["numPuzzleIdentifiers"] as? Int)
        return [
            "code_version": current["codeVersion"] ?? "", "preset": current["preset"] ?? "", "overrides": current["overrides"] ?? "",
            "dataset": current["dataset"] ?? "", "dataset_digest": training["datasetDigest"] ?? "", "seed": trainer["seed"] ?? 0,
            "threads": current["threads"] ?? 1, "hidden_size": model["hiddenSize"] ?? 0, "num_heads": model["numHeads"] ?? 0,
            "H_layers": model["hLayers"] ?? 0, "L_layers": model["lLayers"] ?? 0, "H_cycles": model["hCycles"] ?? 0, "L_cycles": model["lCycles"] ?? 0,
            "halt_max_steps": model["haltMaxSteps"] ?? 0, "puzzle_emb_ndim": model["puzzleEmbeddingDim"] ?? 0,
            "num_puzzle_identifiers": numPuzzleIdentifiers + 1, "seq_len": model["seqLen"] ?? 0, "batch_size": trainer["batchSize"] ?? 0,
            "lr": trainer["learningRate"] ?? 0, "puzzle_emb_lr": trainer["puzzleEmbeddingLearningRate"] ?? 0,
            "weight_decay": trainer["weightDecay"] ?? 0, "warmup_steps": trainer["warmupSteps"] ?? 0, "total_steps": trainer["totalSteps"] ?? 0,
            "max_steps": training["maxSteps"] ?? 0, "epochs": training["epochs"] ?? 0, "time_budget_seconds": NSNull(),
            "parameters": current["parameters"] ?? 0, "model": model, "trainer": trainer, "created_at": current["createdAt"] ?? "",
        ]
    }

    func testCurrentAndEarlierRunFoldersResumeAndReport() throws {
        let root = try TinyTaskFiles.sandbox("run-folder-layouts")
        defer { try? FileManager.default.removeItem(at: root) }
        try TinyTaskFiles.write(root.appendingPathComponent("tasks/train"), prefix: "tr", count: 2)
        try TinyTaskFiles.write(root.appendingPathComponent("tasks/eval"), prefix: "ev", count: 2)
        try TinyTaskFiles.run(["build-dataset", "--train", "tasks/train", "--eval", "tasks/eval", "--canvas", "4", "--num-aug", "1",
                               "--out", "built", "--quiet"], in: root)
        try TinyTaskFiles.run(["train", "--dataset", "built", "--out", "run", "--max-steps", "2", "--quiet"] + model, in: root)

        // The current layout: one "training" object, the run's description beside it, each value once.
        let configURL = root.appendingPathComponent("run/config.json")
        let current = try object(configURL)
        XCTAssertEqual(current["format"] as? String, "arc-pipeline-run-2")
        let training = try XCTUnwrap(current["training"] as? [String: Any])
        XCTAssertEqual((training["trainer"] as? [String: Any])?["batchSize"] as? Int, 4)
        XCTAssertNil((training["model"] as? [String: Any])?["batchSize"], "the batch size is stored once, as the trainer's")
        XCTAssertNil(current["hidden_size"], "no flat copies of the hyperparameters")
        XCTAssertEqual(current["overrides"] as? String, "--hidden-size 16 --heads 2 --halt-max-steps 2 --batch-size 4")

        try TinyTaskFiles.run(["evaluate", "--dataset", "built", "--model", "run", "--out", "sub", "--threads", "1", "--quiet"], in: root)
        let report = try String(contentsOf: root.appendingPathComponent("sub/report.html"), encoding: .utf8)
        for (key, value) in [("hidden_size", "16"), ("batch_size", "4"), ("halt_max_steps", "2"), ("preset", "cpu"), ("seed", "0")] {
            XCTAssertTrue(report.contains("data-config=\"\(key)\">\(value)<"), "the report shows \(key) \(value)")
        }

        // The earlier flat layout: resume continues the run with its settings, and refuses others.
        let flat = try JSONSerialization.data(withJSONObject: try flatLayout(of: current), options: [.sortedKeys])
        try flat.write(to: configURL)
        let resumed = try TinyTaskFiles.run(["train", "--dataset", "built", "--out", "run", "--resume", "--max-steps", "4", "--quiet"] + model, in: root)
        XCTAssertTrue(resumed.stdout.contains("trained steps 2..4"), resumed.stdout)
        XCTAssertEqual(try Data(contentsOf: configURL), flat, "resume leaves config.json as it was")
        let refused = try PipelineExecutable.run(["train", "--dataset", "built", "--out", "run", "--resume", "--max-steps", "6", "--lr", "0.5",
                                                  "--quiet"] + model, in: root)
        XCTAssertNotEqual(refused.status, 0)
        XCTAssertTrue(refused.stderr.contains("config.json") && refused.stderr.contains("--lr 0.5 (the run has 0.001)"), refused.stderr)

        try TinyTaskFiles.run(["report", "sub", "--run", "run", "--out", "flat.html"], in: root)
        let flatReport = try String(contentsOf: root.appendingPathComponent("flat.html"), encoding: .utf8)
        for (key, value) in [("hidden_size", "16"), ("batch_size", "4"), ("preset", "cpu")] {
            XCTAssertTrue(flatReport.contains("data-config=\"\(key)\">\(value)<"), "the report of the flat layout shows \(key) \(value)")
        }
    }
}
