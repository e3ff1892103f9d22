// TRM in the trainer with the weight EMA (docs/SPEC.md §9): exact resume (2N straight steps equal
// N, a checkpoint, a fresh model and trainer resumed from it and N more: bit-identical training
// weights and EMA, single thread); the checkpoint's model file holds the EMA's weights and its
// state the training weights; the EMA is what the formula gives; a state with an EMA is refused
// by a run without one. Also HRM's EMA path: off by default, nothing extra in the state.
import Foundation
import HRM
import Kernels
import Training
import XCTest

final class TRMResumeTests: XCTestCase {
    static func tinyTRM() -> HRMConfig {
        var c = HRMConfig.trm(hiddenSize: 16, numHeads: 2, expansion: 2, lLayers: 2, hCycles: 2, lCycles: 2, haltMaxSteps: 3,
                              puzzleEmbeddingLength: 2)
        c.seqLen = 9
        c.numPuzzleIdentifiers = 6
        return c
    }

    static func options(ema: Double) -> TrainerOptions {
        var o = ResumeTests.options()
        o.emaRate = ema
        return o
    }

    func makeModel() -> ReasoningModel<Float> {
        let m = ReasoningModel<Float>.make(config: Self.tinyTRM(), maxBatch: 4)
        m.parameters.initialize(seed: 3)
        return m
    }

    func temporaryRun() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("arc-trm-resume-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    func dense(_ m: ReasoningModel<Float>) -> [Float] { Array(m.parameters.values.array.prefix(m.denseParameterCount)) }

    func testResumeWithEMAIsBitIdentical() throws {
        KernelThreads.configure(threads: 1)
        defer { KernelThreads.configure(threads: 0) }
        let data = ResumeTests.tinyData()
        let n = 5
        var plan = TrainingPlan(maxSteps: 2 * n)
        plan.quiet = true
        plan.logInterval = 1
        let straightDir = try temporaryRun()
        defer { try? FileManager.default.removeItem(at: straightDir) }
        let straight = try TrainingSession(runDirectory: straightDir, model: makeModel(), data: data, options: Self.options(ema: 0.8), resume: false)
        _ = try straight.run(plan, stop: StopRequest())

        let splitDir = try temporaryRun()
        defer { try? FileManager.default.removeItem(at: splitDir) }
        plan.maxSteps = n
        _ = try TrainingSession(runDirectory: splitDir, model: makeModel(), data: data, options: Self.options(ema: 0.8), resume: false)
            .run(plan, stop: StopRequest())
        // A run without the EMA refuses this state (it would lose the average).
        XCTAssertThrowsError(try TrainingSession(runDirectory: splitDir, model: makeModel(), data: data, options: Self.options(ema: 0), resume: true)) {
            XCTAssertTrue("\($0)".contains("ema.training_weights"), "\($0)")
        }
        let fresh = ReasoningModel<Float>.make(config: Self.tinyTRM(), maxBatch: 4)  // zeros: all from the checkpoint
        let second = try TrainingSession(runDirectory: splitDir, model: fresh, data: data, options: Self.options(ema: 0.8), resume: true)
        XCTAssertEqual(second.trainer.step, n)
        plan.maxSteps = 2 * n
        _ = try second.run(plan, stop: StopRequest())

        let a = dense(straight.trainer.model), b = dense(fresh)
        XCTAssertEqual(a.count, b.count)
        XCTAssertEqual(a.indices.filter { a[$0].bitPattern != b[$0].bitPattern }.count, 0, "training weights differ after resume")
        XCTAssertEqual(straight.trainer.model.parameters.puzzleEmbedding.array, fresh.parameters.puzzleEmbedding.array)
        let averageA = straight.trainer.withAveragedWeights { dense(straight.trainer.model) }
        let averageB = second.trainer.withAveragedWeights { dense(fresh) }
        XCTAssertEqual(averageA.indices.filter { averageA[$0].bitPattern != averageB[$0].bitPattern }.count, 0, "EMA differs after resume")
        XCTAssertNotEqual(averageA, a, "the EMA is not the training weights")
        XCTAssertEqual(dense(fresh), b, "withAveragedWeights puts the training weights back")

        // The checkpoint: model.safetensors = the EMA, state.safetensors = the training weights.
        let store = CheckpointStore(runDirectory: splitDir)
        let folder = try XCTUnwrap(store.latest())
        let saved = ReasoningModel<Float>.make(config: Self.tinyTRM(), maxBatch: 4)
        try saved.load(from: store.modelFile(folder))
        XCTAssertEqual(dense(saved), averageB)
        let state = try CheckpointStore.readState(folder.appendingPathComponent("state.safetensors"))
        XCTAssertEqual(state.trainingWeights, b)
    }

    /// The EMA after k steps is the formula over the training weights seen after each step.
    func testEMAFollowsTheFormula() throws {
        KernelThreads.configure(threads: 1)
        defer { KernelThreads.configure(threads: 0) }
        let model = makeModel()
        let trainer = try ACTTrainer(model: model, data: ResumeTests.tinyData(), options: Self.options(ema: 0.7))
        var expected = dense(model)
        for _ in 0..<4 {
            try trainer.trainStep()
            let w = dense(model)
            for i in expected.indices { expected[i] = Float(0.3) * w[i] + Float(0.7) * expected[i] }
        }
        let average = trainer.withAveragedWeights { dense(model) }
        XCTAssertEqual(average.count, expected.count)
        let worst = zip(average, expected).map { abs($0 - $1) }.max() ?? 0
        XCTAssertLessThanOrEqual(worst, 1e-7, "largest |EMA - formula| \(worst)")
    }

    /// HRM without --ema: no average, the state holds no training weights; trains as before.
    func testNoEMAByDefault() throws {
        let dir = try temporaryRun()
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertEqual(TrainerOptions.preset(.cpu, architecture: .hrm).emaRate, 0)
        XCTAssertEqual(TrainerOptions.preset(.cpu, architecture: .trm).emaRate, 0)
        XCTAssertEqual(TrainerOptions.preset(.paper, architecture: .trm).emaRate, 0.999)
        XCTAssertEqual(TrainerOptions.preset(.cpu, architecture: .trm).learningRate, 3e-4)
        XCTAssertEqual(TrainerOptions.preset(.cpu, architecture: .hrm), TrainerOptions.preset(.cpu), "HRM's presets are unchanged")
        let model = ReasoningModel<Float>.make(config: ResumeTests.tinyConfig(), maxBatch: 4)
        model.parameters.initialize(seed: 3)
        var plan = TrainingPlan(maxSteps: 2)
        plan.quiet = true
        let session = try TrainingSession(runDirectory: dir, model: model, data: ResumeTests.tinyData(), options: ResumeTests.options(), resume: false)
        _ = try session.run(plan, stop: StopRequest())
        let weights = dense(model)
        XCTAssertEqual(session.trainer.withAveragedWeights { dense(model) }, weights)
        let folder = try XCTUnwrap(CheckpointStore(runDirectory: dir).latest())
        XCTAssertNil(try CheckpointStore.readState(folder.appendingPathComponent("state.safetensors")).trainingWeights)
    }
}
