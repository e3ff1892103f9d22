// --precision through a real run: a run trained with bf16 records it in config.json, `--resume` under
// auto keeps it (and says so), an explicit --precision wins; train-eval evaluates in the chosen one.
import Foundation
import TestHelpers
import XCTest

final class PrecisionRunTests: XCTestCase {
    func precisionLine(_ output: String) throws -> String {
        String(try XCTUnwrap(output.split(separator: "\n").first { $0.hasPrefix("matmul precision: ") }, output))
    }

    func recordedPrecision(_ run: URL) throws -> String? {
        let data = try Data(contentsOf: run.appendingPathComponent("config.json"))
        return try XCTUnwrap(JSONSerialization.jsonObject(with: data) as? [String: Any])["precision"] as? String
    }

    func testResumeUnderAutoKeepsTheRunsPrecision() throws {
        let root = try TinyTaskFiles.sandbox("precision-run")
        defer { try? FileManager.default.removeItem(at: root) }
        try TinyTaskFiles.write(root.appendingPathComponent("tasks"), prefix: "t", count: 3)
        try TinyTaskFiles.run(["build-dataset", "--train", root.appendingPathComponent("tasks").path,
                               "--canvas", "4", "--num-aug", "2", "--out", "built", "--quiet"], in: root)
        let common = ["train", "--preset", "cpu", "--hidden-size", "16", "--dataset", "built", "--out", "run", "--threads", "1", "--quiet"]
        let (_, first, _) = try TinyTaskFiles.run(common + ["--max-steps", "2", "--precision", "bf16"], in: root)
        XCTAssertTrue(try precisionLine(first).hasPrefix("matmul precision: bf16 operands"), first)
        let run = root.appendingPathComponent("run")
        let recorded = try XCTUnwrap(try recordedPrecision(run))
        XCTAssertTrue(recorded == "bf16 (emulated)" || recorded == "bf16 (oneDNN)", recorded)

        // auto on resume: the run's bf16, whatever auto would pick on this CPU.
        let (_, resumed, _) = try TinyTaskFiles.run(common + ["--max-steps", "3", "--resume"], in: root)
        let line = try precisionLine(resumed)
        XCTAssertTrue(line.hasPrefix("matmul precision: bf16 operands"), line)
        XCTAssertTrue(line.contains("auto kept the run's own precision (\(recorded)"), line)
        XCTAssertTrue(resumed.contains("trained steps 2..3"), resumed)
        XCTAssertEqual(try recordedPrecision(run), recorded, "config.json is written once, when the run starts")

        // An explicit value wins.
        let (_, forced, _) = try TinyTaskFiles.run(common + ["--max-steps", "4", "--resume", "--precision", "fp32"], in: root)
        XCTAssertEqual(try precisionLine(forced), "matmul precision: fp32 (--precision fp32)")
        XCTAssertTrue(forced.contains("trained steps 3..4"), forced)

        // A fresh fp32 run records fp32.
        let (_, fresh, _) = try TinyTaskFiles.run(["train", "--preset", "cpu", "--hidden-size", "16", "--dataset", "built", "--out", "run32",
                                                   "--threads", "1", "--quiet", "--max-steps", "1", "--precision", "fp32"], in: root)
        XCTAssertEqual(try precisionLine(fresh), "matmul precision: fp32 (--precision fp32)")
        XCTAssertEqual(try recordedPrecision(root.appendingPathComponent("run32")), "fp32")
    }
}
