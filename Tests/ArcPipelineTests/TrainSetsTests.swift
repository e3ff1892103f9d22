// train-eval --train-sets: test-time training only (`none`, the default: the dataset holds the
// predicted tasks' demonstrations and nothing else), the preset's training sets, or chosen ones.
// A training set that holds a predicted task is refused before anything is built (its test outputs
// would be trained on); bad lists are refused naming the option.
import Foundation
import XCTest

final class TrainSetsTests: XCTestCase {
    let tiny = ["--canvas", "4", "--num-aug", "1", "--hidden-size", "16", "--heads", "2", "--halt-max-steps", "2", "--batch-size", "4",
                "--max-steps", "2", "--threads", "1"]

    /// The puzzle names of a built dataset (identifiers.json, without the blank).
    func puzzleNames(_ dataset: URL) throws -> [String] {
        let names = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: dataset.appendingPathComponent("identifiers.json"))) as? [String])
        return names.filter { $0 != "<blank>" }
    }

    func testTheDefaultTrainsOnThePredictedTasksDemonstrationsOnly() throws {
        let root = try TinyTaskFiles.sandbox("train-sets")
        defer { try? FileManager.default.removeItem(at: root) }
        try TinyTaskFiles.write(root.appendingPathComponent("data/arc-agi-2/training"), prefix: "tr", count: 2)
        try TinyTaskFiles.write(root.appendingPathComponent("data/arc-agi-2/evaluation"), prefix: "ev", count: 2)
        let base = ["train-eval", "--data-dir", "data", "--dataset", "arc2"] + tiny

        let preset = try TinyTaskFiles.run(base + ["--train-sets", "preset", "--out", "sub-preset"], in: root).stdout
        XCTAssertTrue(preset.contains("data/built/arc2-tpreset-aug1-c4-s42"), preset)
        let withTraining = try puzzleNames(root.appendingPathComponent("data/built/arc2-tpreset-aug1-c4-s42"))
        XCTAssertTrue(withTraining.contains { $0.hasPrefix("tr") } && withTraining.contains { $0.hasPrefix("ev") }, "\(withTraining)")

        // The default and `none` are the same run: test-time training only.
        let plain = try TinyTaskFiles.run(base + ["--out", "sub-none"], in: root).stdout
        let dataset = root.appendingPathComponent("data/built/arc2-aug1-c4-s42")
        XCTAssertTrue(plain.contains("[1/3] dataset: built") && plain.contains("data/built/arc2-aug1-c4-s42"), plain)
        let names = try puzzleNames(dataset)
        XCTAssertFalse(names.isEmpty)
        XCTAssertFalse(names.contains { $0.hasPrefix("tr") }, "no training-set task: \(names)")
        XCTAssertEqual(Set(names), Set(withTraining.filter { $0.hasPrefix("ev") }), "the same predicted tasks and augmentations")
        let info = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: dataset.appendingPathComponent("build_info.json"))) as? [String: Any])
        XCTAssertEqual(info["training"] as? [String], [])
        XCTAssertEqual(info["evaluation"] as? [String], ["arc-agi-2:evaluation"])
        XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent("sub-none/submission.json").path))
        // Without --epochs train-eval takes the reference's 100000, so that the budget (here --max-steps) stops training.
        let runLine = try XCTUnwrap(plain.split(separator: "\n").first { $0.hasPrefix("run folder: ") }, plain)
        let config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: String(runLine.dropFirst("run folder: ".count)))
            .appendingPathComponent("config.json"))) as? [String: Any])
        XCTAssertEqual((config["training"] as? [String: Any])?["epochs"] as? Double, 100_000)
        let none = try TinyTaskFiles.run(base + ["--train-sets", "none", "--out", "sub-none"], in: root).stdout
        XCTAssertTrue(none.contains("[1/3] dataset: reusing") && none.contains("[2/3] train: reusing"), "none is the default:\n\(none)")

        // A list of sets: here the preset's own, named; its dataset has its own folder.
        let listed = try TinyTaskFiles.run(base + ["--train-sets", "arc-agi-2:training", "--out", "sub-listed"], in: root).stdout
        XCTAssertTrue(listed.contains("arc2-tarc-agi-2_training-aug1-c4-s42"), listed)
        XCTAssertEqual(try puzzleNames(root.appendingPathComponent("data/built/arc2-tarc-agi-2_training-aug1-c4-s42")), withTraining)
    }

    func testTrainingSetsHoldingAPredictedTaskAndBadListsAreRefused() throws {
        let command = ["train-eval", "--data-dir", "data", "--dataset", "arc1", "--out", "sub"] + tiny
        let prepare: (URL) throws -> Void = { root in
            try TinyTaskFiles.write(root.appendingPathComponent("data/arc-agi-1/evaluation"), prefix: "ev", count: 2)
            try TinyTaskFiles.write(root.appendingPathComponent("data/arc-agi-1/training"), prefix: "tr", count: 2)
            try TinyTaskFiles.write(root.appendingPathComponent("data/concept-arc/Concept"), prefix: "c", count: 2)
            // ARC-AGI-2's training set holds ARC-AGI-1 evaluation tasks: here ev1.
            try TinyTaskFiles.write(root.appendingPathComponent("data/arc-agi-2/training"), prefix: "ev", count: 2)
        }
        var cases = [HostileCase(name: "a training set holding a predicted task", arguments: command + ["--train-sets", "concept-arc,arc-agi-2:training"],
                                 errorMentions: ["--train-sets", "arc-agi-2:training holds 2 of the tasks", "ev0, ev1", "trained on"], prepare: prepare)]
        for (value, mentions) in [("nosuch", ["'nosuch' is not a training set"]), ("none,concept-arc", ["'none' is not a training set"]),
                                  ("", ["Missing value"]), ("kaggle:test", ["'kaggle:test' is not a training set"]),
                                  ("concept-arc,,arc-agi-1:training", ["an empty name"]), ("concept-arc,concept-arc", ["'concept-arc' is named twice"])] {
            cases.append(HostileCase(name: "--train-sets=\(value)", arguments: command + ["--train-sets=\(value)"],
                                     errorMentions: ["--train-sets"] + mentions, prepare: prepare))
        }
        try HostileInputHarness.check(cases)
    }
}
