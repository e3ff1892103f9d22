// What a process killed around a checkpoint leaves must still resume and evaluate: `latest` missing or
// naming a folder that is not there (killed between a rename and the write of `latest`, or while a step's
// folder was being replaced) falls back to the newest complete checkpoint beside it; a run that ends on
// a checkpoint step saves it once (saving it twice replaced the folder `latest` names); counters in a
// state file too large to count on are refused instead of overflowing in the trainer.
import Foundation
import HRM
import Kernels
import Training
import XCTest

final class CheckpointRecoveryTests: XCTestCase {
    private func temporaryRun() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("arc-recovery-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    private func model() -> HRMModel<Float> {
        let m = HRMModel<Float>(config: ResumeTests.tinyConfig(), maxBatch: 4)
        m.parameters.initialize(seed: 3)
        return m
    }

    /// A run of `steps` steps with a checkpoint every 2; returns its folder and summary.
    private func run(steps: Int, in dir: URL? = nil, resume: Bool = false) throws -> (URL, TrainingSummary) {
        let dir = try dir ?? temporaryRun()
        let session = try TrainingSession(runDirectory: dir, model: model(), data: ResumeTests.tinyData(), options: ResumeTests.options(), resume: resume)
        var plan = TrainingPlan(maxSteps: steps)
        plan.quiet = true
        plan.checkpointInterval = 2
        return (dir, try session.run(plan, stop: StopRequest()))
    }

    private func resumedStep(_ dir: URL) throws -> Int {
        try TrainingSession(runDirectory: dir, model: model(), data: ResumeTests.tinyData(), options: ResumeTests.options(), resume: true).trainer.step
    }

    private func checkpoints(_ dir: URL) -> URL { dir.appendingPathComponent("checkpoints") }

    func testARunEndingOnACheckpointStepSavesItOnce() throws {
        let (dir, summary) = try run(steps: 4)
        XCTAssertEqual(summary.checkpointSteps, [2, 4], "the end of the run does not save step 4 a second time")
        XCTAssertEqual(CheckpointStore(runDirectory: dir).latest()?.lastPathComponent, "step-00000004")
        // A run that stops between checkpoint steps still saves where it stopped, and resuming continues.
        let (_, more) = try run(steps: 5, in: dir, resume: true)
        XCTAssertEqual(more.checkpointSteps, [5])
        XCTAssertEqual(try resumedStep(dir), 5)
    }

    func testLatestNamingAMissingFolderFallsBackToTheNewestCompleteCheckpoint() throws {
        let (dir, _) = try run(steps: 4)
        let fm = FileManager.default
        // Killed while step 4's folder was being replaced: moved aside, the new one not yet renamed in.
        try fm.moveItem(at: checkpoints(dir).appendingPathComponent("step-00000004"),
                        to: checkpoints(dir).appendingPathComponent(".step-00000004.replaced-999"))
        XCTAssertEqual(try String(contentsOf: checkpoints(dir).appendingPathComponent("latest"), encoding: .utf8), "step-00000004\n")
        XCTAssertEqual(CheckpointStore(runDirectory: dir).latest()?.lastPathComponent, "step-00000002")
        let note = try XCTUnwrap(CheckpointStore(runDirectory: dir).fallbackNote(), "the fallback is said, for the commands to print")
        XCTAssertTrue(note.contains("names step-00000004") && note.contains("using the newest complete checkpoint, step-00000002"), note)
        XCTAssertEqual(try resumedStep(dir), 2)
        // Resuming from the fallback trains on and saves as usual (the moved-aside folder is cleared away).
        let (_, summary) = try run(steps: 4, in: dir, resume: true)
        XCTAssertEqual(summary.checkpointSteps, [4])
        XCTAssertEqual(CheckpointStore(runDirectory: dir).latest()?.lastPathComponent, "step-00000004")
        XCTAssertNil(CheckpointStore(runDirectory: dir).fallbackNote(), "latest names a complete checkpoint again")
        XCTAssertFalse(fm.fileExists(atPath: checkpoints(dir).appendingPathComponent(".step-00000004.replaced-999").path))
    }

    func testSavingAStepThatExistsReplacesItWholeAndLeavesNothingAside() throws {
        let (dir, _) = try run(steps: 4)
        // Resume from step 2 (as after a fallback) while step 4's folder is there: step 4 is saved again.
        try "step-00000002\n".write(to: checkpoints(dir).appendingPathComponent("latest"), atomically: true, encoding: .utf8)
        XCTAssertEqual(try resumedStep(dir), 2)
        let before = try FileManager.default.attributesOfItem(atPath: checkpoints(dir).appendingPathComponent("step-00000004").path)[.systemFileNumber] as? Int
        let (_, summary) = try run(steps: 4, in: dir, resume: true)
        XCTAssertEqual(summary.checkpointSteps, [4])
        let folder = try XCTUnwrap(CheckpointStore(runDirectory: dir).latest())
        XCTAssertEqual(folder.lastPathComponent, "step-00000004")
        let after = try FileManager.default.attributesOfItem(atPath: folder.path)[.systemFileNumber] as? Int
        XCTAssertNotEqual(before, after, "the folder is the new save, not the old one")
        XCTAssertEqual(try resumedStep(dir), 4)
        let leftovers = try FileManager.default.contentsOfDirectory(atPath: checkpoints(dir).path).filter { $0.hasPrefix(".") }
        XCTAssertEqual(leftovers, [], "no temporary or moved-aside folder stays")
    }

    func testAMissingLatestFileFallsBackToTheHighestCompleteStep() throws {
        let (dir, _) = try run(steps: 4)
        let fm = FileManager.default
        // Killed between the first rename of a checkpoint and the write of `latest`.
        try fm.removeItem(at: checkpoints(dir).appendingPathComponent("latest"))
        XCTAssertEqual(CheckpointStore(runDirectory: dir).latest()?.lastPathComponent, "step-00000004")
        XCTAssertEqual(CheckpointStore(runDirectory: dir).fallbackNote(), "checkpoints/latest is missing; using the newest complete checkpoint, step-00000004")
        // Steps are compared as numbers (a nine-digit step sorts after an eight-digit one), and a folder
        // without both files, or a name that is not `step-` and digits, is not a checkpoint.
        let four = checkpoints(dir).appendingPathComponent("step-00000004")
        try fm.copyItem(at: four, to: checkpoints(dir).appendingPathComponent("step-100000000"))
        try fm.copyItem(at: four, to: checkpoints(dir).appendingPathComponent("step-99999999"))
        XCTAssertEqual(CheckpointStore(runDirectory: dir).latest()?.lastPathComponent, "step-100000000")
        let incomplete = checkpoints(dir).appendingPathComponent("step-200000000")
        try fm.createDirectory(at: incomplete, withIntermediateDirectories: true)
        try fm.copyItem(at: four.appendingPathComponent("state.safetensors"), to: incomplete.appendingPathComponent("state.safetensors"))
        try fm.copyItem(at: four, to: checkpoints(dir).appendingPathComponent("step-300000000x"))
        try fm.copyItem(at: four, to: checkpoints(dir).appendingPathComponent("step-"))
        XCTAssertEqual(CheckpointStore(runDirectory: dir).latest()?.lastPathComponent, "step-100000000")
        // `latest` naming an incomplete folder falls back the same way.
        try "step-200000000\n".write(to: checkpoints(dir).appendingPathComponent("latest"), atomically: true, encoding: .utf8)
        XCTAssertEqual(CheckpointStore(runDirectory: dir).latest()?.lastPathComponent, "step-100000000")
    }

    func testNoCompleteCheckpointIsStillNone() throws {
        let dir = try temporaryRun()
        XCTAssertNil(CheckpointStore(runDirectory: dir).latest())
        let only = checkpoints(dir).appendingPathComponent("step-00000002")
        try FileManager.default.createDirectory(at: only, withIntermediateDirectories: true)
        try Data(repeating: 1, count: 8).write(to: only.appendingPathComponent("model.safetensors"))
        XCTAssertNil(CheckpointStore(runDirectory: dir).latest(), "a folder without its state file is not a checkpoint")
    }

    func testCountersTooLargeToCountOnAreRefused() throws {
        let (dir, _) = try run(steps: 2)
        let state = checkpoints(dir).appendingPathComponent("step-00000002/state.safetensors")
        let original = try SafeTensorsFile.read(state)
        let limit = CheckpointStore.counterLimit
        XCTAssertLessThan(limit, Int.max / 2, "the trainer can count on from the limit without overflowing")
        for field in ["adam_step", "step", "sampler_epoch", "sampler_position"] {
            for value in [String(Int.max), String(Int.max - 1), String(limit + 1)] {
                var file = original
                file.metadata[field] = value
                try file.write(to: state)
                XCTAssertThrowsError(try resumedStep(dir), "\(field) = \(value)") { error in
                    let text = "\(error)"
                    XCTAssertTrue(text.contains("state.safetensors") && text.contains(field) && text.contains(value), text)
                }
            }
        }
        // At the limit the counters are read (the trainer's own checks may still refuse a position past the order).
        var file = original
        file.metadata["adam_step"] = String(limit)
        try file.write(to: state)
        XCTAssertEqual(try resumedStep(dir), 2)
    }
}
