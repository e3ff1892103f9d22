// train-eval reuses a finished run only when the resolved training configuration is the same:
// rerunning with the same options reuses it, and changing any single option that changes the
// run (weight decays, rates, seed, schedule, model shape, stopping rule) trains a new run
// (RunConfigurationTests covers every field of the configuration). A built dataset is reused only
// when its build_info.json records the same build inputs.
import Foundation
import XCTest

final class TrainEvalReuseTests: XCTestCase {
    func testReuseOnlyWhenNothingChanged() throws {
        let root = try TinyTaskFiles.sandbox("train-eval-reuse")
        defer { try? FileManager.default.removeItem(at: root) }
        try TinyTaskFiles.write(root.appendingPathComponent("data/arc-agi-2/training"), prefix: "tr", count: 2)
        try TinyTaskFiles.write(root.appendingPathComponent("data/arc-agi-2/evaluation"), prefix: "ev", count: 2)
        let base = ["train-eval", "--data-dir", "data", "--dataset", "arc2", "--canvas", "4", "--num-aug", "1",
                    "--hidden-size", "16", "--heads", "2", "--halt-max-steps", "2", "--batch-size", "4", "--max-steps", "2",
                    "--threads", "1", "--out", "sub"]
        let reused = "[2/3] train: reusing the finished run"

        let first = try TinyTaskFiles.run(base, in: root).stdout
        XCTAssertTrue(first.contains("[2/3] train: steps 2"), first)
        XCTAssertTrue(first.contains("[1/3] dataset: built"), first)
        let second = try TinyTaskFiles.run(base, in: root).stdout
        XCTAssertTrue(second.contains(reused), "the same options reuse the run")
        XCTAssertTrue(second.contains("[1/3] dataset: reusing"), "and the dataset")

        // build_info.json recording another build input (one train-eval has no option for): built again.
        let info = root.appendingPathComponent("data/built/arc2-aug1-c4-s42/build_info.json")
        let text = try String(contentsOf: info, encoding: .utf8)
        try Data(text.replacingOccurrences(of: "\"retries_factor\": 5", with: "\"retries_factor\": 6").utf8).write(to: info)
        XCTAssertNotEqual(try String(contentsOf: info, encoding: .utf8), text, "the fixture spells retries_factor as expected")
        let rebuilt = try TinyTaskFiles.run(base, in: root).stdout
        XCTAssertTrue(rebuilt.contains("[1/3] dataset: built"), rebuilt)
        XCTAssertEqual(try String(contentsOf: info, encoding: .utf8), text, "the same bytes again")
        XCTAssertTrue(rebuilt.contains(reused), "the same dataset bytes: the run is reused")
        XCTAssertTrue(try TinyTaskFiles.run(base + ["--threads", "2"], in: root).stdout.contains(reused), "threads change the speed only")

        let changes: [[String]] = [
            ["--weight-decay", "0.2"], ["--puzzle-emb-weight-decay", "0.2"], ["--lr", "0.002"], ["--puzzle-emb-lr", "0.02"],
            ["--seed", "1"], ["--exploration", "0.2"], ["--warmup-steps", "3"], ["--lr-min-ratio", "0.5"], ["--epochs", "50"],
            ["--max-steps", "3"], ["--time-budget", "1h"], ["--h-cycles", "2"], ["--expansion", "2"], ["--log-interval", "1"],
            ["--batch-size", "2"], ["--hidden-size", "32"], ["--heads", "4"], ["--h-layers", "2"], ["--l-layers", "2"], ["--l-cycles", "1"],
            ["--halt-max-steps", "3"], ["--puzzle-emb-ndim", "8"], ["--checkpoint-interval", "5"], ["--preset", "cpu-bench"],
        ]
        var runFolders = Set<String>()
        for change in changes {
            let out = try TinyTaskFiles.run(base + change, in: root).stdout
            XCTAssertFalse(out.contains(reused), "\(change.joined(separator: " ")) must not reuse the finished run:\n\(out)")
            XCTAssertTrue(out.contains("[2/3] train: steps"), "\(change.joined(separator: " ")) trains:\n\(out)")
            if let line = out.split(separator: "\n").first(where: { $0.hasPrefix("run folder: ") }) { runFolders.insert(String(line)) }
        }
        XCTAssertEqual(runFolders.count, changes.count, "each configuration has its own run folder")
        XCTAssertTrue(try TinyTaskFiles.run(base, in: root).stdout.contains(reused), "the first run is still reused")
    }
}
