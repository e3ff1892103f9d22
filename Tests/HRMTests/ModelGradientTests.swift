// Finite-difference test (Double) of one full inner step of a tiny model: D=8, 2 heads, 1+1 layers,
// 2/2 cycles, 3x3 canvas, puzzle_emb_ndim 12 (P = 2, zero padded), batch 2, the real loss
// (stablemax CE + 0.5 * BCE halt/continue). The 1-step gradient holds the no-gradient part fixed, so
// the finite differences rerun only the differentiated step from the carry the no-gradient cycles left.
import Foundation
import Kernels
import XCTest
@testable import HRM
import TestHelpers

final class ModelGradientTests: XCTestCase {
    override func setUp() { KernelThreads.configure(threads: 2) }

    static let tinyConfig = HRMConfig(
        hiddenSize: 8, numHeads: 2, expansion: 4, hLayers: 1, lLayers: 1, hCycles: 2, lCycles: 2, haltMaxSteps: 2,
        puzzleEmbeddingDim: 12, numPuzzleIdentifiers: 3, vocabSize: 12, seqLen: 9)

    func makeTinyModel(flash: Bool = false) -> (HRMModel<Double>, [Int32], [Int32], [Int32]) {
        let config = Self.tinyConfig
        let model = HRMModel<Double>(config: config, maxBatch: 2)
        model.alwaysFlashAttention = flash
        model.parameters.initialize(seed: 42)
        var generator = SplitMix64(seed: 7)
        // Random q_head weight and puzzle table so every gradient path is non-zero.
        let q = model.parameters.layout[ParameterLayout.prefix + "q_head.weight"]
        for i in 0..<q.count { model.parameters.values[q.offset + i] = generator.nextNormal() * 0.5 }
        for i in 0..<model.parameters.puzzleEmbedding.count { model.parameters.puzzleEmbedding[i] = generator.nextNormal() * 0.3 }
        let inputs: [Int32] = (0..<18).map { _ in Int32(generator.next() % 12) }
        let labels: [Int32] = (0..<18).map { i in i % 5 == 0 ? 0 : Int32(1 + generator.next() % 11) }
        return (model, inputs, labels, [2, 3])
    }

    func testInnerStepGradientMatchesFiniteDifferences() { checkInnerStepGradient(flash: false) }
    /// The same check through the flash attention kernel (short sequences run the blocked one by default).
    func testInnerStepGradientMatchesFiniteDifferencesWithFlashAttention() { checkInnerStepGradient(flash: true) }

    func checkInnerStepGradient(flash: Bool) {
        let (model, inputs, labels, identifiers) = makeTinyModel(flash: flash)
        let config = Self.tinyConfig
        let batch = 2
        let base = HRMCarry<Double>(config: config, batch: batch)
        base.resetAll(model: model)
        model.noGradientCycles(carry: base, inputs: inputs, puzzleIdentifiers: identifiers)
        let work = HRMCarry<Double>(config: config, batch: batch)
        let haltTargets: [Double] = [1, 0], continueTargets: [Double] = [0.3, 0.8]
        let dlogits = Tensor<Double>(shape: [batch, config.seqLen, config.vocabSize])
        let dq = Tensor<Double>(shape: [batch, 2])

        func loss(backward: Bool) -> Double {
            work.zH.copy(from: base.zH)
            work.zL.copy(from: base.zL)
            model.gradientStepOnly(carry: work, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: backward)
            let lm = labels.withUnsafeBufferPointer {
                sequenceStablemaxLoss(backward ? dlogits.pointer : nil, model.logits.pointer, $0.baseAddress!, batch: batch, tokens: config.seqLen, vocab: config.vocabSize, ignoreLabel: 0).loss
            }
            let halt = haltTargets.withUnsafeBufferPointer { binaryCrossEntropyWithLogits(backward ? dq.pointer : nil, model.qLogits.pointer, stride: 2, $0.baseAddress!, count: batch, gradientScale: 0.5) }
            let cont = continueTargets.withUnsafeBufferPointer { binaryCrossEntropyWithLogits(backward ? dq.pointer + 1 : nil, model.qLogits.pointer + 1, stride: 2, $0.baseAddress!, count: batch, gradientScale: 0.5) }
            if backward {
                model.zeroGradients()
                model.backward(dlogits: dlogits.pointer, dq: dq.pointer, batch: batch)
            }
            return lm + 0.5 * (halt + cont)
        }
        _ = loss(backward: true)
        let analytic = model.gradients.array
        let puzzleAnalytic = model.puzzleTableGradient(batch: batch).array
        for entry in model.parameters.layout.trainableEntries {
            finiteDifferenceCheck(entry.name, parameter: model.parameters.values.pointer + entry.offset, count: entry.count,
                                  analytic: Array(analytic[entry.offset..<(entry.offset + entry.count)]), maxChecks: 40) { loss(backward: false) }
        }
        finiteDifferenceCheck(ParameterLayout.puzzleEmbeddingName, parameter: model.parameters.puzzleEmbedding.pointer,
                              count: model.parameters.puzzleEmbedding.count, analytic: puzzleAnalytic, maxChecks: 48) { loss(backward: false) }
        // No gradient reaches identifiers outside the batch (rows 0 and 1).
        for j in 0..<(2 * config.puzzleEmbeddingDim) { XCTAssertEqual(puzzleAnalytic[j], 0) }
    }

    func testInnerStepEqualsNoGradientCyclesThenGradientStep() {
        let (model, inputs, _, identifiers) = makeTinyModel()
        let config = Self.tinyConfig
        let a = HRMCarry<Double>(config: config, batch: 2), b = HRMCarry<Double>(config: config, batch: 2)
        a.resetAll(model: model); b.resetAll(model: model)
        model.innerStep(carry: a, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: false)
        let logitsA = model.logits.array, qA = model.qLogits.array
        model.noGradientCycles(carry: b, inputs: inputs, puzzleIdentifiers: identifiers)
        model.gradientStepOnly(carry: b, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: true)
        XCTAssertEqual(model.logits.array, logitsA)
        XCTAssertEqual(model.qLogits.array, qA)
        XCTAssertEqual(a.zH.array, b.zH.array)
        XCTAssertEqual(a.zL.array, b.zL.array)
        // the carry changed from its reset value
        let fresh = HRMCarry<Double>(config: config, batch: 2)
        fresh.resetAll(model: model)
        XCTAssertNotEqual(fresh.zH.array, a.zH.array)
    }

    func testFloatModelMatchesDoubleModel() {
        let (doubleModel, inputs, _, identifiers) = makeTinyModel()
        let config = Self.tinyConfig
        let floatModel = HRMModel<Float>(config: config, maxBatch: 2)
        for i in 0..<floatModel.parameters.values.count { floatModel.parameters.values[i] = Float(doubleModel.parameters.values[i]) }
        for i in 0..<floatModel.parameters.puzzleEmbedding.count { floatModel.parameters.puzzleEmbedding[i] = Float(doubleModel.parameters.puzzleEmbedding[i]) }
        let cd = HRMCarry<Double>(config: config, batch: 2), cf = HRMCarry<Float>(config: config, batch: 2)
        cd.resetAll(model: doubleModel); cf.resetAll(model: floatModel)
        doubleModel.innerStep(carry: cd, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: false)
        floatModel.innerStep(carry: cf, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: false)
        assertClose("float vs double logits", floatModel.logits.array, doubleModel.logits.array, atol: 1e-4, rtol: 1e-4)
    }
}
