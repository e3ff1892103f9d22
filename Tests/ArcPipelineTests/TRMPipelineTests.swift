// `--arch trm` through the command line: train-eval trains TRM end to end and writes a valid
// submission, the run folder and report say TRM, a second call reuses the run, `evaluate` of the
// run gives the same predictions (the checkpoint is a TRM model), `--resume` refuses another --arch;
// options that make no sense for TRM are refused naming the option.
import Foundation
import TestHelpers
import XCTest

final class TRMPipelineTests: XCTestCase {
    let tiny = ["--canvas", "4", "--num-aug", "1", "--hidden-size", "16", "--heads", "2", "--halt-max-steps", "2", "--batch-size", "4",
                "--max-steps", "3", "--threads", "1"]

    func testTrainEvalWithTRMWritesASubmissionAndEvaluateReproducesIt() throws {
        let root = try TinyTaskFiles.sandbox("trm-pipeline")
        defer { try? FileManager.default.removeItem(at: root) }
        try TinyTaskFiles.write(root.appendingPathComponent("data/arc-agi-2/evaluation"), prefix: "ev", count: 2)
        let command = ["train-eval", "--data-dir", "data", "--dataset", "arc2", "--arch", "trm", "--ema", "0.5", "--out", "sub"] + tiny
        let first = try TinyTaskFiles.run(command, in: root)
        XCTAssertTrue(first.stderr.contains("(TRM, D 16, 2 layers, cycles 2/2, ACT 2)"), first.stderr)
        let runLine = try XCTUnwrap(first.stdout.split(separator: "\n").first { $0.hasPrefix("run folder: ") }, first.stdout)
        let runFolder = String(runLine.dropFirst("run folder: ".count))
        XCTAssertTrue(runFolder.contains("/arc2-aug1-c4-s42-trm-cpu-"), runFolder)
        let config = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: runFolder).appendingPathComponent("config.json"))) as? [String: Any])
        let training = try XCTUnwrap(config["training"] as? [String: Any])
        let model = try XCTUnwrap(training["model"] as? [String: Any])
        XCTAssertEqual(model["architecture"] as? String, "trm")
        XCTAssertEqual(model["hLayers"] as? Int, 0)
        XCTAssertEqual(model["noACTContinue"] as? Bool, true)
        XCTAssertEqual((training["trainer"] as? [String: Any])?["emaRate"] as? Double, 0.5)

        // A valid submission: every task of the challenges file, two attempts per test input.
        let submissionURL = root.appendingPathComponent("sub/submission.json")
        let submission = try XCTUnwrap(try JSONSerialization.jsonObject(with: Data(contentsOf: submissionURL)) as? [String: [[String: Any]]])
        XCTAssertEqual(Set(submission.keys), ["ev0", "ev1"])
        for (_, outputs) in submission { for attempts in outputs { XCTAssertNotNil(attempts["attempt_1"]); XCTAssertNotNil(attempts["attempt_2"]) } }

        // The same call reuses the finished run.
        let again = try TinyTaskFiles.run(command, in: root)
        XCTAssertTrue(again.stdout.contains("[2/3] train: reusing"), again.stdout)

        // `evaluate` of the run folder loads a TRM model from the checkpoint and predicts the same.
        let evaluated = try TinyTaskFiles.run(["evaluate", "--model", runFolder, "--dataset", "data/built/arc2-aug1-c4-s42", "--data-dir", "data",
                                               "--threads", "1", "--out", "sub-evaluate"], in: root)
        XCTAssertEqual(try Data(contentsOf: root.appendingPathComponent("sub-evaluate/submission.json")), try Data(contentsOf: submissionURL),
                       evaluated.stdout)

        // train --resume of this run with another architecture is refused, naming both.
        let resume = try PipelineExecutable.run(["train", "--dataset", "data/built/arc2-aug1-c4-s42", "--out", runFolder, "--resume",
                                                 "--arch", "hrm", "--max-steps", "4", "--threads", "1"], in: root)
        XCTAssertNotEqual(resume.status, 0)
        XCTAssertTrue(resume.stderr.contains("--arch hrm (the run has trm)"), resume.stderr)
    }

    func testOptionsThatDoNotFitTRMAreRefused() throws {
        let command = ["train-eval", "--data-dir", "data", "--dataset", "arc2", "--out", "sub"] + tiny
        let prepare: (URL) throws -> Void = { root in
            try TinyTaskFiles.write(root.appendingPathComponent("data/arc-agi-2/evaluation"), prefix: "ev", count: 2)
        }
        try HostileInputHarness.check([
            HostileCase(name: "--h-layers with TRM", arguments: command + ["--arch", "trm", "--h-layers", "2"],
                        errorMentions: ["--h-layers", "TRM has one network"], prepare: prepare),
            HostileCase(name: "--arch unknown", arguments: command + ["--arch", "transformer"], errorMentions: ["--arch", "transformer"], prepare: prepare),
            HostileCase(name: "--ema 1", arguments: command + ["--arch", "trm", "--ema", "1"], errorMentions: ["--ema", "0.9999"], prepare: prepare),
            HostileCase(name: "--ema -0.1", arguments: command + ["--ema=-0.1"], errorMentions: ["--ema"], prepare: prepare),
            HostileCase(name: "--puzzle-emb-ndim beyond TRM's puzzle tokens", arguments: command + ["--arch", "trm", "--preset", "cpu-bench", "--puzzle-emb-ndim", "300"],
                        errorMentions: ["--puzzle-emb-ndim 300", "16 puzzle tokens of width 16"], prepare: prepare),
        ])
    }
}
