// When training diverges (a non-finite loss or gradient), the error tells the truth about what is
// left: the checkpoint to resume from, or that no checkpoint was saved yet.
import Foundation
import HRM
import Kernels
import Training
import XCTest

final class DivergenceMessageTests: XCTestCase {
    /// A rate so large that the parameters overflow within a few steps.
    func divergingOptions() -> TrainerOptions {
        var options = ResumeTests.options()
        options.learningRate = 1e30
        return options
    }

    func model() -> HRMModel<Float> {
        let m = HRMModel<Float>(config: ResumeTests.tinyConfig(), maxBatch: 4)
        m.parameters.initialize(seed: 3)
        return m
    }

    func temporaryRun() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("arc-diverge-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func testSaysWhenNoCheckpointExistsYet() throws {
        KernelThreads.configure(threads: 1)
        defer { KernelThreads.configure(threads: 0) }
        let dir = try temporaryRun()
        let session = try TrainingSession(runDirectory: dir, model: model(), data: ResumeTests.tinyData(), options: divergingOptions(), resume: false)
        var plan = TrainingPlan(maxSteps: 50)
        plan.quiet = true
        XCTAssertThrowsError(try session.run(plan, stop: StopRequest())) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("diverged at step"), text)
            XCTAssertFalse(text.contains("checkpoint is kept"), text)
            XCTAssertTrue(text.contains("no checkpoint was saved"), text)
        }
        XCTAssertNil(CheckpointStore(runDirectory: dir).latest())
    }

    func testNamesTheCheckpointLeftToResumeFrom() throws {
        KernelThreads.configure(threads: 1)
        defer { KernelThreads.configure(threads: 0) }
        let dir = try temporaryRun()
        let data = ResumeTests.tinyData()
        var plan = TrainingPlan(maxSteps: 2)
        plan.quiet = true
        _ = try TrainingSession(runDirectory: dir, model: model(), data: data, options: ResumeTests.options(), resume: false)
            .run(plan, stop: StopRequest())
        let resumed = try TrainingSession(runDirectory: dir, model: model(), data: data, options: divergingOptions(), resume: true)
        plan.maxSteps = 50
        XCTAssertThrowsError(try resumed.run(plan, stop: StopRequest())) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("diverged at step"), text)
            XCTAssertTrue(text.contains("step-00000002"), "names the checkpoint: \(text)")
        }
    }
}
