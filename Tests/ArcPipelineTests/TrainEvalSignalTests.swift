// train-eval that builds its dataset and then trains: SIGINT and SIGTERM during training stop it
// cleanly (checkpoint saved, exit 130), although the dataset build had installed and uninstalled
// its own signal handling first.
import Foundation
import TestHelpers
import XCTest

final class TrainEvalSignalTests: XCTestCase {
    func testSignalDuringTrainingAfterTheDatasetBuildStopsTheRun() throws {
        try interruptTraining(with: SIGINT, name: "SIGINT", reason: "interrupted (SIGINT)")
        try interruptTraining(with: SIGTERM, name: "SIGTERM", reason: "terminated (SIGTERM)")
    }

    func interruptTraining(with signal: Int32, name: String, reason: String, line: UInt = #line) throws {
        let root = try TinyTaskFiles.sandbox("train-eval-signal")
        defer { try? FileManager.default.removeItem(at: root) }
        try TinyTaskFiles.write(root.appendingPathComponent("data/arc-agi-2/training"), prefix: "tr", count: 2)
        try TinyTaskFiles.write(root.appendingPathComponent("data/arc-agi-2/evaluation"), prefix: "ev", count: 2)
        let process = try PipelineExecutable.start(["train-eval", "--data-dir", "data", "--dataset", "arc2", "--canvas", "4", "--num-aug", "1",
                                                    "--hidden-size", "16", "--heads", "2", "--halt-max-steps", "2", "--batch-size", "4",
                                                    "--max-steps", "1000000", "--log-interval", "1", "--threads", "1", "--out", "sub"], in: root)
        defer { if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() } }
        guard let stdoutPipe = process.standardOutput as? Pipe, let stderrPipe = process.standardError as? Pipe else {
            return XCTFail("the executable's output is on pipes", line: line)
        }
        let stdoutReader = PipeReader(stdoutPipe), stderrReader = PipeReader(stderrPipe)
        // Wait until training has logged a step (the dataset was built before it).
        let runs = root.appendingPathComponent("runs")
        func trainingLogged() -> Bool {
            ((try? FileManager.default.contentsOfDirectory(atPath: runs.path)) ?? []).contains { folder in
                let log = runs.appendingPathComponent(folder).appendingPathComponent("metrics.jsonl").path
                return ((try? FileManager.default.attributesOfItem(atPath: log))?[.size] as? Int ?? 0) > 0
            }
        }
        let deadline = Date().addingTimeInterval(120)
        while !trainingLogged() && process.isRunning && Date() < deadline { usleep(10_000) }
        XCTAssertTrue(trainingLogged(), "\(name): training started", line: line)
        kill(process.processIdentifier, signal)
        let exitDeadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < exitDeadline { usleep(10_000) }
        XCTAssertFalse(process.isRunning, "\(name): the run stopped within 60 s of the signal", line: line)
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let out = String(decoding: stdoutReader.wait(), as: UTF8.self), err = String(decoding: stderrReader.wait(), as: UTF8.self)
        XCTAssertTrue(out.contains("[1/3] dataset: built"), "\(name): this run built its dataset:\n\(out)", line: line)
        XCTAssertEqual(process.terminationReason, .exit, "\(name): exits (not killed by the signal):\n\(err)", line: line)
        XCTAssertEqual(process.terminationStatus, 130, "\(name):\n\(out)\n\(err)", line: line)
        XCTAssertTrue(err.contains("\(name): finishing the step, saving a checkpoint, then stopping"), "\(name): the notice:\n\(err)", line: line)
        XCTAssertTrue(out.contains("(\(reason))"), "\(name): training stopped for the signal:\n\(out)", line: line)
        XCTAssertTrue(out.contains("stopped; resume with:"), "\(name): the resume hint:\n\(out)", line: line)
    }
}
