// Finite-difference test (Double) of TRM's backward (docs/SPEC.md §9) on a tiny model: D 8, 2 heads,
// 2 layers, H_cycles 2, L_cycles 3, a 3x3 canvas, puzzle_emb_ndim 12 in puzzle_emb_len 3 tokens,
// batch 2, the real loss (stablemax CE + 0.5 * BCE on q_halt and q_continue). The cycles without
// gradient are held fixed (their carry is computed once), so the finite differences rerun the last
// cycle, which the analytic gradient differentiates in full (4 network applications, 8 blocks).
// Also: innerStep = the cycles without gradient then the last cycle; the crop side W runs like the full
// sequence; Float agrees with Double.
import Foundation
import Kernels
import XCTest
@testable import HRM
import TestHelpers

final class TRMGradientTests: XCTestCase {
    override func setUp() { KernelThreads.configure(threads: 2) }

    static let tinyConfig = HRMConfig.trm(
        hiddenSize: 8, numHeads: 2, expansion: 4, lLayers: 2, hCycles: 2, lCycles: 3, haltMaxSteps: 2,
        puzzleEmbeddingDim: 12, puzzleEmbeddingLength: 3, numPuzzleIdentifiers: 3, vocabSize: 12, seqLen: 9)

    func makeTinyModel() -> (TRMModel<Double>, [Int32], [Int32], [Int32]) {
        let config = Self.tinyConfig
        let model = TRMModel<Double>(config: config, maxBatch: 2)
        model.parameters.initialize(seed: 43)
        var generator = SplitMix64(seed: 11)
        // Random q_head weight and puzzle table so every gradient path is non-zero.
        let q = model.parameters.layout[ParameterLayout.prefix + "q_head.weight"]
        for i in 0..<q.count { model.parameters.values[q.offset + i] = generator.nextNormal() * 0.5 }
        for i in 0..<model.parameters.puzzleEmbedding.count { model.parameters.puzzleEmbedding[i] = generator.nextNormal() * 0.3 }
        let inputs: [Int32] = (0..<18).map { _ in Int32(generator.next() % 12) }
        let labels: [Int32] = (0..<18).map { i in i % 5 == 0 ? 0 : Int32(1 + generator.next() % 11) }
        return (model, inputs, labels, [2, 3])
    }

    func testLastCycleGradientMatchesFiniteDifferences() {
        let (model, inputs, labels, identifiers) = makeTinyModel()
        let config = Self.tinyConfig
        let batch = 2
        let base = ReasoningCarry<Double>(config: config, batch: batch)
        base.resetAll(model: model)
        model.noGradientCycles(carry: base, inputs: inputs, puzzleIdentifiers: identifiers)
        let work = ReasoningCarry<Double>(config: config, batch: batch)
        let haltTargets: [Double] = [1, 0], continueTargets: [Double] = [0.3, 0.8]
        let dlogits = Tensor<Double>(shape: [batch, config.seqLen, config.vocabSize])
        let dq = Tensor<Double>(shape: [batch, 2])

        func loss(backward: Bool) -> Double {
            work.copy(from: base)
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
        XCTAssertEqual(model.parameters.layout.trainableEntries.count, 4 + 4 * config.lLayers)
        for entry in model.parameters.layout.trainableEntries {
            let slice = Array(analytic[entry.offset..<(entry.offset + entry.count)])
            XCTAssertTrue(slice.contains { $0 != 0 }, "\(entry.name): analytic gradient all zero (test would be vacuous)")
            finiteDifferenceCheck(entry.name, parameter: model.parameters.values.pointer + entry.offset, count: entry.count,
                                  analytic: slice, maxChecks: 40) { loss(backward: false) }
        }
        finiteDifferenceCheck(ParameterLayout.puzzleEmbeddingName, parameter: model.parameters.puzzleEmbedding.pointer,
                              count: model.parameters.puzzleEmbedding.count, analytic: puzzleAnalytic, maxChecks: 48) { loss(backward: false) }
        // No gradient reaches identifiers outside the batch (rows 0 and 1).
        for j in 0..<(2 * config.puzzleEmbeddingDim) { XCTAssertEqual(puzzleAnalytic[j], 0) }
    }

    func testInnerStepEqualsNoGradientCyclesThenLastCycle() {
        let (model, inputs, _, identifiers) = makeTinyModel()
        let config = Self.tinyConfig
        let a = ReasoningCarry<Double>(config: config, batch: 2), b = ReasoningCarry<Double>(config: config, batch: 2)
        a.resetAll(model: model); b.resetAll(model: model)
        model.innerStep(carry: a, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: false)
        let logitsA = model.logits.array, qA = model.qLogits.array
        model.noGradientCycles(carry: b, inputs: inputs, puzzleIdentifiers: identifiers)
        model.gradientStepOnly(carry: b, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: true)
        XCTAssertEqual(model.logits.array, logitsA)
        XCTAssertEqual(model.qLogits.array, qA)
        XCTAssertEqual(a.zH.array, b.zH.array)
        XCTAssertEqual(a.zL.array, b.zL.array)
        let fresh = ReasoningCarry<Double>(config: config, batch: 2)
        fresh.resetAll(model: model)
        XCTAssertNotEqual(fresh.zH.array, a.zH.array)
        XCTAssertNotEqual(fresh.zL.array, a.zL.array)
    }

    /// The crop side W (the whole 3x3 canvas, positions given per row) runs exactly like the full sequence.
    func testFullSideCropEqualsFullSequence() throws {
        let (model, inputs, _, identifiers) = makeTinyModel()
        let config = Self.tinyConfig
        XCTAssertThrowsError(try ReasoningCarry<Double>.validateSide(4, config: config))
        try ReasoningCarry<Double>.validateSide(3, config: config)
        XCTAssertEqual(ReasoningCarry<Double>.positions(side: 3, config: config), (0..<12).map { Int32($0) })
        XCTAssertEqual(ReasoningCarry<Double>.positions(side: 2, config: config), [0, 1, 2, 3, 4, 6, 7])
        let full = ReasoningCarry<Double>(config: config, batch: 2), cropped = ReasoningCarry<Double>(config: config, batch: 2, side: 3)
        full.resetAll(model: model); cropped.resetAll(model: model)
        model.innerStep(carry: full, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: false)
        let logits = model.logits.array
        model.innerStep(carry: cropped, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: false)
        XCTAssertEqual(model.logits.array, logits)
        XCTAssertEqual(full.zH.array, cropped.zH.array)
    }

    func testFloatModelMatchesDoubleModel() {
        let (doubleModel, inputs, _, identifiers) = makeTinyModel()
        let config = Self.tinyConfig
        let floatModel = TRMModel<Float>(config: config, maxBatch: 2)
        for i in 0..<floatModel.parameters.values.count { floatModel.parameters.values[i] = Float(doubleModel.parameters.values[i]) }
        for i in 0..<floatModel.parameters.puzzleEmbedding.count { floatModel.parameters.puzzleEmbedding[i] = Float(doubleModel.parameters.puzzleEmbedding[i]) }
        let cd = ReasoningCarry<Double>(config: config, batch: 2), cf = ReasoningCarry<Float>(config: config, batch: 2)
        cd.resetAll(model: doubleModel); cf.resetAll(model: floatModel)
        doubleModel.innerStep(carry: cd, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: false)
        floatModel.innerStep(carry: cf, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: false)
        assertClose("TRM float vs double logits", floatModel.logits.array, doubleModel.logits.array, atol: 1e-4, rtol: 1e-4)
        assertClose("TRM float vs double z_L", cf.zL.array, cd.zL.array, atol: 1e-4, rtol: 1e-4)
    }
}
