// Exact resume: 2N steps in one run equal N steps, a checkpoint, a new process-like restart
// from that checkpoint and N more steps (single thread, bit-identical parameters); and a
// crash while a checkpoint is being written leaves the previous one loadable.
import Foundation
import HRM
import Kernels
import Training
import XCTest

final class ResumeTests: XCTestCase {
    static func tinyConfig() -> HRMConfig {
        var c = HRMConfig(hiddenSize: 16, numHeads: 2, expansion: 2, hLayers: 1, lLayers: 1, hCycles: 2, lCycles: 1, haltMaxSteps: 3)
        c.seqLen = 9
        c.numPuzzleIdentifiers = 6
        return c
    }

    /// 6 puzzles in 3 groups, 2..4 examples each, random 3x3 token grids with a shifted copy as label.
    static func tinyData() -> ArrayExampleSource {
        var rng = SplitMix64(seed: 5)
        let puzzleOffsets = [0, 3, 5, 9, 11, 14, 16]
        let n = puzzleOffsets.last!
        var inputs = [Int32](), labels = [Int32]()
        for _ in 0..<n {
            let row = (0..<9).map { _ in Int32(2 + rng.next() % 10) }
            inputs += row
            labels += row.map { ($0 - 2 + 1) % 10 + 2 }
        }
        return ArrayExampleSource(sequenceLength: 9, inputs: inputs, labels: labels, puzzleOffsets: puzzleOffsets,
                                  groupOffsets: [0, 2, 4, 6], identifiers: [1, 2, 3, 4, 5, 6])
    }

    static func options() -> TrainerOptions {
        var o = TrainerOptions.preset(named: "cpu")!
        o.batchSize = 4
        o.explorationProbability = 0.5
        o.totalSteps = 100
        o.warmupSteps = 3
        o.lrMinRatio = 0.1
        o.seed = 11
        return o
    }

    func makeModel() -> HRMModel<Float> {
        let m = HRMModel<Float>(config: Self.tinyConfig(), maxBatch: 4)
        m.parameters.initialize(seed: 3)
        return m
    }

    func allParameters(_ m: ReasoningModel<Float>) -> [Float] { m.parameters.values.array + m.parameters.puzzleEmbedding.array }

    func temporaryRun() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("arc-resume-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    func testResumeIsBitIdentical() throws {
        KernelThreads.configure(threads: 1)
        defer { KernelThreads.configure(threads: 0) }
        let data = Self.tinyData()
        let n = 7
        // One run of 2N steps.
        let straightDir = try temporaryRun()
        defer { try? FileManager.default.removeItem(at: straightDir) }
        let straight = try TrainingSession(runDirectory: straightDir, model: makeModel(), data: data, options: Self.options(), resume: false)
        var plan = TrainingPlan(maxSteps: 2 * n)
        plan.quiet = true
        plan.logInterval = 1
        _ = try straight.run(plan, stop: StopRequest())

        // N steps, stop, a fresh model and trainer resumed from the checkpoint, N more.
        let splitDir = try temporaryRun()
        defer { try? FileManager.default.removeItem(at: splitDir) }
        let first = try TrainingSession(runDirectory: splitDir, model: makeModel(), data: data, options: Self.options(), resume: false)
        plan.maxSteps = n
        _ = try first.run(plan, stop: StopRequest())
        let fresh = HRMModel<Float>(config: Self.tinyConfig(), maxBatch: 4)  // zero weights: everything must come from the checkpoint
        let second = try TrainingSession(runDirectory: splitDir, model: fresh, data: data, options: Self.options(), resume: true)
        XCTAssertEqual(second.trainer.step, n)
        plan.maxSteps = 2 * n
        _ = try second.run(plan, stop: StopRequest())

        let a = allParameters(straight.trainer.model), b = allParameters(fresh)
        XCTAssertEqual(a.count, b.count)
        var differing = 0
        for i in 0..<a.count where a[i].bitPattern != b[i].bitPattern { differing += 1 }
        XCTAssertEqual(differing, 0, "parameters after 2N straight steps and N + resume + N differ in \(differing) of \(a.count) values")
        XCTAssertNotEqual(allParameters(makeModel()), a, "training changed the parameters")
        // The metrics log holds one line per step, in order, across the restart.
        let lines = try String(contentsOf: splitDir.appendingPathComponent("metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(lines.count, 2 * n)
        XCTAssertTrue(lines.last?.contains("\"step\": \(2 * n)") ?? false)
    }

    func testTimeBudgetAndStopRequestSaveACheckpoint() throws {
        let dir = try temporaryRun()
        defer { try? FileManager.default.removeItem(at: dir) }
        let session = try TrainingSession(runDirectory: dir, model: makeModel(), data: Self.tinyData(), options: Self.options(), resume: false)
        var plan = TrainingPlan(maxSteps: 1_000_000)
        plan.quiet = true
        let stop = StopRequest()
        stop.request("test stop")
        let summary = try session.run(plan, stop: stop)
        XCTAssertEqual(summary.stopReason, "test stop")
        XCTAssertNotNil(CheckpointStore(runDirectory: dir).latest(), "a stopped run still leaves a checkpoint")
        plan.timeBudget = 0.2
        let resumed = try TrainingSession(runDirectory: dir, model: makeModel(), data: Self.tinyData(), options: Self.options(), resume: true)
        let s2 = try resumed.run(plan, stop: StopRequest())
        XCTAssertTrue(s2.stopReason.contains("time budget"), s2.stopReason)
        XCTAssertGreaterThan(s2.endStep, 0)
    }

    func testInterruptedCheckpointWriteKeepsThePreviousOne() throws {
        let dir = try temporaryRun()
        defer { try? FileManager.default.removeItem(at: dir) }
        let session = try TrainingSession(runDirectory: dir, model: makeModel(), data: Self.tinyData(), options: Self.options(), resume: false)
        var plan = TrainingPlan(maxSteps: 3)
        plan.quiet = true
        _ = try session.run(plan, stop: StopRequest())
        let store = CheckpointStore(runDirectory: dir)
        let good = try XCTUnwrap(store.latest())
        // What a crash mid-save leaves: a temporary folder with a truncated model file.
        let partial = dir.appendingPathComponent("checkpoints/.step-00000004.tmp-999")
        try FileManager.default.createDirectory(at: partial, withIntermediateDirectories: true)
        try Data(repeating: 7, count: 100).write(to: partial.appendingPathComponent("model.safetensors"))
        XCTAssertEqual(store.latest(), good)
        let resumed = try TrainingSession(runDirectory: dir, model: HRMModel<Float>(config: Self.tinyConfig(), maxBatch: 4),
                                          data: Self.tinyData(), options: Self.options(), resume: true)
        XCTAssertEqual(resumed.trainer.step, 3)
    }

    func testNonFiniteLossStopsWithTheStepNamedAndKeepsTheLastCheckpoint() throws {
        let dir = try temporaryRun()
        defer { try? FileManager.default.removeItem(at: dir) }
        let model = makeModel()
        let session = try TrainingSession(runDirectory: dir, model: model, data: Self.tinyData(), options: Self.options(), resume: false)
        var plan = TrainingPlan(maxSteps: 2)
        plan.quiet = true
        plan.checkpointInterval = 1
        _ = try session.run(plan, stop: StopRequest())
        let good = try XCTUnwrap(CheckpointStore(runDirectory: dir).latest())
        model.parameters.pointer("model.inner.lm_head.weight")[0] = .nan
        plan.maxSteps = 5
        XCTAssertThrowsError(try session.run(plan, stop: StopRequest())) { error in
            XCTAssertTrue("\(error)".contains("diverged at step 3"), "\(error)")
        }
        XCTAssertEqual(CheckpointStore(runDirectory: dir).latest(), good, "no checkpoint of the diverged state")
        let resumed = try TrainingSession(runDirectory: dir, model: HRMModel<Float>(config: Self.tinyConfig(), maxBatch: 4),
                                          data: Self.tinyData(), options: Self.options(), resume: true)
        XCTAssertEqual(resumed.trainer.step, 2)
        XCTAssertFalse(resumed.trainer.model.parameters.values.array.contains { $0.isNaN })
    }
}
