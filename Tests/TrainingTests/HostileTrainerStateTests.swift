// Resuming from a trainer state that does not fit: saved with another batch size, a sampler order
// naming groups the dataset does not have, tokens, identifiers or moments out of range. Each is
// refused when the session opens, with the state file and the field named, instead of trapping
// (or corrupting memory) at the first step.
import Foundation
import HRM
import Kernels
import Training
import XCTest

final class HostileTrainerStateTests: XCTestCase {
    private func temporaryRun() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("arc-hostile-state-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    private func options(batch: Int) -> TrainerOptions {
        var o = ResumeTests.options()
        o.batchSize = batch
        return o
    }

    private func model(batch: Int) -> HRMModel<Float> {
        let m = HRMModel<Float>(config: ResumeTests.tinyConfig(), maxBatch: batch)
        m.parameters.initialize(seed: 3)
        return m
    }

    /// A run of 2 steps at batch size 4 with one checkpoint; returns its state file.
    private func trainedRun() throws -> (URL, URL) {
        let dir = try temporaryRun()
        let session = try TrainingSession(runDirectory: dir, model: model(batch: 4), data: ResumeTests.tinyData(), options: options(batch: 4), resume: false)
        var plan = TrainingPlan(maxSteps: 2)
        plan.quiet = true
        _ = try session.run(plan, stop: StopRequest())
        let folder = try XCTUnwrap(CheckpointStore(runDirectory: dir).latest())
        return (dir, folder.appendingPathComponent("state.safetensors"))
    }

    private func assertResumeRefused(_ dir: URL, batch: Int = 4, mentions: [String], line: UInt = #line) {
        XCTAssertThrowsError(try TrainingSession(runDirectory: dir, model: model(batch: batch), data: ResumeTests.tinyData(),
                                                 options: options(batch: batch), resume: true), line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("state.safetensors"), "names the state file: \(text)", line: line)
            for m in mentions { XCTAssertTrue(text.contains(m), "mentions '\(m)': \(text)", line: line) }
        }
    }

    /// Rewrites one tensor of the state file.
    private func edit(_ state: URL, _ name: String, int32 values: [Int32]? = nil, floats: [Float]? = nil) throws {
        var file = try SafeTensorsFile.read(state)
        if let values { file.tensors[name] = SafeTensor(name: name, shape: [values.count], int32: values) }
        if let floats { file.tensors[name] = SafeTensor(name: name, shape: [floats.count], floats: floats) }
        try file.write(to: state)
    }

    func testStateFromAnotherBatchSizeIsRefusedNamingBoth() throws {
        let (dir, _) = try trainedRun()
        assertResumeRefused(dir, batch: 2, mentions: ["batch size 4", "batch size 2"])
        // The run itself still resumes at its own batch size.
        XCTAssertEqual(try TrainingSession(runDirectory: dir, model: model(batch: 4), data: ResumeTests.tinyData(),
                                           options: options(batch: 4), resume: true).trainer.step, 2)
    }

    func testSamplerOrderOutOfRangeIsRefused() throws {
        let (dir, state) = try trainedRun()
        try edit(state, "sampler.group_order", int32: [0, 7, 1])
        assertResumeRefused(dir, mentions: ["sampler.group_order", "7"])
        try edit(state, "sampler.group_order", int32: [0, 1])
        assertResumeRefused(dir, mentions: ["sampler.group_order", "3 groups"])
        try edit(state, "sampler.group_order", int32: [0, 1, 1])
        assertResumeRefused(dir, mentions: ["sampler.group_order", "twice"])
    }

    func testSlotContentsOutOfRangeAreRefused() throws {
        let (dir, state) = try trainedRun()
        let original = try SafeTensorsFile.read(state)
        func restore() throws { try original.write(to: state) }
        let inputs = try XCTUnwrap(original["act.current_inputs"]?.integers).map { Int32($0) }
        var badInputs = inputs
        badInputs[5] = 200
        try edit(state, "act.current_inputs", int32: badInputs)
        assertResumeRefused(dir, mentions: ["act.current_inputs", "200"])
        try restore()
        try edit(state, "act.current_identifiers", int32: [1, 2, 99, 1])
        assertResumeRefused(dir, mentions: ["act.current_identifiers", "99"])
        try restore()
        let carry = try XCTUnwrap(original["act.carry"]?.floats)
        try edit(state, "act.carry", floats: Array(carry.dropLast()))
        assertResumeRefused(dir, mentions: ["act.carry"])
        try restore()
        var moments = try XCTUnwrap(original["adam.second_moment"]?.floats)
        moments[0] = .nan
        try edit(state, "adam.second_moment", floats: moments)
        assertResumeRefused(dir, mentions: ["adam.second_moment"])
        try restore()
        XCTAssertNoThrow(try TrainingSession(runDirectory: dir, model: model(batch: 4), data: ResumeTests.tinyData(),
                                             options: options(batch: 4), resume: true))
    }
}
