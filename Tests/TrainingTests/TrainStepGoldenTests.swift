// One full ACT training step (halting, Q target, losses, 1-step gradient, AdamATan2 and sparse
// sign-SGD) against the PyTorch reference's fixtures (Tests/Fixtures/README.md, train_step and
// train_two_steps). Losses |a-b| <= 1e-5 + 1e-4|b|; parameters after the step within 1e-6, except
// at most 0.5% of a tensor within lr*pi/2 + 1e-6 (the fixture README's caveat on tiny gradients).
import Foundation
import HRM
import Kernels
import TestHelpers
import Training
import XCTest

final class TrainStepGoldenTests: XCTestCase {
    /// Builds the fixture's model (config from model_x's metadata) with its weights.
    func model(from weights: SafeTensorsFile, batch: Int, haltMaxSteps: Int) throws -> HRMModel<Float> {
        let json = try JSONSerialization.jsonObject(with: Data((weights.metadata["config"] ?? "{}").utf8)) as? [String: Any] ?? [:]
        func int(_ k: String) throws -> Int {
            guard let v = json[k] as? Int else { XCTFail("fixture config lacks \(k)"); throw HRMError.safetensors(k) }
            return v
        }
        var config = HRMConfig(hiddenSize: try int("hidden_size"), numHeads: try int("num_heads"), expansion: 4,
                               hLayers: try int("H_layers"), lLayers: try int("L_layers"), hCycles: try int("H_cycles"), lCycles: try int("L_cycles"),
                               haltMaxSteps: haltMaxSteps)
        config.seqLen = try int("seq_len")
        config.puzzleEmbeddingDim = try int("puzzle_emb_ndim")
        config.numPuzzleIdentifiers = try int("num_puzzle_identifiers") - 1
        let m = HRMModel<Float>(config: config, maxBatch: batch)
        try m.load(from: weights, source: "fixture")
        return m
    }

    func options(batch: Int) -> TrainerOptions {
        var o = TrainerOptions()
        o.batchSize = batch
        o.learningRate = 1e-4
        o.puzzleEmbeddingLearningRate = 1e-2
        o.weightDecay = 0.1
        o.puzzleEmbeddingWeightDecay = 0.1
        o.warmupSteps = 0
        o.lrMinRatio = 1
        o.totalSteps = 10
        o.explorationProbability = 0
        return o
    }

    func mapIgnored(_ labels: [Int32]) -> [Int32] { labels.map { $0 == 0 ? -100 : $0 } }

    /// Parameters after the step: within 1e-6, apart from at most 0.5% of a tensor within lr*pi/2 + 1e-6.
    func assertParameters(_ model: HRMModel<Float>, _ expected: SafeTensorsFile, prefix: String, lr: Double = 1e-4,
                          file: StaticString = #filePath, line: UInt = #line) throws {
        var compared = 0
        for entry in model.parameters.layout.entries where entry.trainable {
            let want = try expected.floats(prefix + entry.name)
            XCTAssertEqual(expected[prefix + entry.name]?.shape, entry.shape, "\(entry.name) shape", file: file, line: line)
            let got = Array(UnsafeBufferPointer(start: model.parameters.values.pointer + entry.offset, count: entry.count))
            var largest = 0.0, flipped = 0
            for i in 0..<entry.count {
                let d = abs(Double(got[i]) - Double(want[i]))
                if d > 1e-6 {
                    flipped += 1
                    XCTAssertLessThanOrEqual(d, lr * Double.pi / 2 + 1e-6, "\(entry.name)[\(i)]", file: file, line: line)
                }
                largest = max(largest, d)
            }
            XCTAssertLessThanOrEqual(Double(flipped), max(1, 0.005 * Double(entry.count)), "\(entry.name): \(flipped) elements differ by more than 1e-6", file: file, line: line)
            print("after-step \(entry.name): largest |diff| \(largest), sign flips \(flipped)")
            compared += 1
        }
        let name = ParameterLayout.puzzleEmbeddingName
        let table = try expected.floats(prefix + name)
        let got = model.parameters.puzzleEmbedding.array
        XCTAssertEqual(got.count, table.count)
        var largest = 0.0
        for i in 0..<min(got.count, table.count) { largest = max(largest, abs(Double(got[i]) - Double(table[i]))) }
        print("after-step \(name): largest |diff| \(largest)")
        XCTAssertLessThanOrEqual(largest, 1e-6, name, file: file, line: line)
        XCTAssertGreaterThan(compared, 5, file: file, line: line)
    }

    func testOneTrainingStepMatchesReference() throws {
        let weights = try Fixtures.load("model_a.safetensors")
        let step = try Fixtures.load("train_step.safetensors")
        let model = try model(from: weights, batch: 3, haltMaxSteps: 2)
        let inputs = try step.ints("batch.inputs"), labels = try step.ints("batch.labels"), ids = try step.ints("batch.puzzle_identifiers")
        // The trainer's data source is unused here (explicit batch), but must match the model's shape.
        let source = ArrayExampleSource(sequenceLength: 16, inputs: inputs, labels: labels, puzzleOffsets: [0, 3], groupOffsets: [0, 1], identifiers: [1])
        let trainer = try ACTTrainer(model: model, data: source, options: options(batch: 3))
        let metrics = try trainer.trainStep(inputs: inputs, labels: mapIgnored(labels), identifiers: ids)

        func scalar(_ k: String) throws -> Double { Double(try step.floats(k)[0]) }
        XCTAssertEqual(metrics.lmLoss, try scalar("loss.lm_loss"), accuracy: 1e-5 + 1e-4 * abs(try scalar("loss.lm_loss")))
        XCTAssertEqual(metrics.qHaltLoss, try scalar("loss.q_halt_loss"), accuracy: 1e-5 + 1e-4 * abs(try scalar("loss.q_halt_loss")))
        XCTAssertEqual(metrics.qContinueLoss, try scalar("loss.q_continue_loss"), accuracy: 1e-5 + 1e-4 * abs(try scalar("loss.q_continue_loss")))
        XCTAssertEqual(metrics.totalLoss, try scalar("loss.total"), accuracy: 1e-5 + 1e-4 * abs(try scalar("loss.total")))
        XCTAssertEqual(Double(metrics.count), try scalar("metrics.count"))
        XCTAssertEqual(metrics.accuracySum, try scalar("metrics.accuracy"), accuracy: 1e-6)
        XCTAssertEqual(Double(metrics.exactSum), try scalar("metrics.exact_accuracy"))
        XCTAssertEqual(Double(metrics.qHaltCorrectSum), try scalar("metrics.q_halt_accuracy"))
        XCTAssertEqual(Double(metrics.stepsSum), try scalar("metrics.steps"))
        print("train step losses: lm \(metrics.lmLoss) q_halt \(metrics.qHaltLoss) q_continue \(metrics.qContinueLoss)")
        try assertParameters(model, step, prefix: "after.")
    }

    func testTwoTrainingCallsWithResetMatchReference() throws {
        let weights = try Fixtures.load("model_b.safetensors")
        let two = try Fixtures.load("train_two_steps.safetensors")
        let model = try model(from: weights, batch: 3, haltMaxSteps: 2)
        let source = ArrayExampleSource(sequenceLength: 16, inputs: [Int32](repeating: 0, count: 48), labels: [Int32](repeating: 0, count: 48),
                                        puzzleOffsets: [0, 3], groupOffsets: [0, 1], identifiers: [1])
        let trainer = try ACTTrainer(model: model, data: source, options: options(batch: 3))
        for call in ["batch1", "batch2"] {
            try trainer.trainStep(inputs: try two.ints("\(call).inputs"), labels: mapIgnored(try two.ints("\(call).labels")),
                                  identifiers: try two.ints("\(call).puzzle_identifiers"))
        }
        try assertParameters(model, two, prefix: "after2.")
    }
}
