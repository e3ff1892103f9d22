// The arc-pipeline executable end to end on tiny synthetic tasks: build-dataset -> train
// (SIGKILLed repeatedly, mostly while writing checkpoints, then resumed) -> evaluate, which
// must write a valid submission covering every task.
import ARCCore
import Foundation
import XCTest
import TestHelpers

final class PipelineCommandTests: XCTestCase {
    @discardableResult
    func run(_ args: [String], in dir: URL, expectSuccess: Bool = true, line: UInt = #line) throws -> (Int32, String, String) {
        let p = try start(args, in: dir)
        let out = (p.standardOutput as! Pipe).fileHandleForReading.readDataToEndOfFile()
        let err = (p.standardError as! Pipe).fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let result = (p.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
        if expectSuccess { XCTAssertEqual(result.0, 0, "arc-pipeline \(args.joined(separator: " ")) failed: \(result.2)", line: line) }
        return result
    }

    func start(_ args: [String], in dir: URL) throws -> Process { try PipelineExecutable.start(args, in: dir) }

    func testBuildTrainKillResumeEvaluate() throws {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("arc-pipeline-e2e-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: root) }
        try TinyTaskFiles.write(root.appendingPathComponent("tasks/train"), prefix: "tr", count: 6)
        try TinyTaskFiles.write(root.appendingPathComponent("tasks/eval"), prefix: "ev", count: 3)
        try run(["build-dataset", "--train", root.appendingPathComponent("tasks/train").path, "--eval", root.appendingPathComponent("tasks/eval").path,
                 "--canvas", "4", "--num-aug", "2", "--out", "built", "--quiet"], in: root)
        let model = ["--hidden-size", "16", "--heads", "2", "--halt-max-steps", "2", "--batch-size", "4", "--threads", "1"]

        // Train with a checkpoint after every step and kill it, hard, three times.
        var lastStep = 0
        for attempt in 0..<3 {
            let args = ["train", "--dataset", "built", "--out", "run", "--max-steps", "100000", "--checkpoint-interval", "1", "--quiet"]
                + model + (attempt > 0 ? ["--resume"] : [])
            let p = try start(args, in: root)
            let latest = root.appendingPathComponent("run/checkpoints/latest")
            let deadline = Date().addingTimeInterval(60)
            while Date() < deadline {
                if let text = try? String(contentsOf: latest, encoding: .utf8), let step = Int(text.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)),
                   step > lastStep + 2 { break }
                usleep(20_000)
            }
            usleep(UInt32.random(in: 0...30_000))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            XCTAssertEqual(p.terminationReason, .uncaughtSignal)
            let text = try String(contentsOf: latest, encoding: .utf8)
            let step = try XCTUnwrap(Int(text.dropFirst(5).trimmingCharacters(in: .whitespacesAndNewlines)), "latest names a step folder: \(text)")
            XCTAssertGreaterThan(step, lastStep, "attempt \(attempt) made progress")
            lastStep = step
        }
        // The latest checkpoint loads and training resumes to a fixed step.
        let (_, out, _) = try run(["train", "--dataset", "built", "--out", "run", "--resume", "--max-steps", "\(lastStep + 3)"] + model, in: root)
        XCTAssertTrue(out.contains("trained steps \(lastStep)..\(lastStep + 3)"), out)

        // Evaluate: a valid submission covering every evaluation task, scored, with a report.
        let (_, evalOut, _) = try run(["evaluate", "--dataset", "built", "--model", "run", "--out", "sub", "--quiet"], in: root)
        XCTAssertTrue(evalOut.contains("score: Kaggle (per test output)"), evalOut)
        let challenges = try TaskLoader.loadDirectory(root.appendingPathComponent("tasks/eval"), name: "eval")
        let submission = try Submission.load(from: root.appendingPathComponent("sub/submission.json"),
                                             expected: SubmissionExpectation(challenges: challenges))
        XCTAssertEqual(submission.taskCount, 3)
        for name in ["predictions.jsonl", "evaluation.json", "score.json", "report.html"] {
            XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent("sub/\(name)").path), name)
        }
    }
}
