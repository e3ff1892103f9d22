// Size-bucketed carries (HRMCarry side:): the top-left s x s crop of the W x W canvas, each token at
// its canvas position. Side validation and positions; side == W is bit-identical to the full carry
// (forward, carry and every gradient); finite differences (Double) of one step on a side-3 carry;
// backward uses the geometry of the recorded step even after a step on a carry of another side;
// carry reset / copy on a bucketed carry. (Golden values for a crop: ModelGoldenTests.testModelCrop.)
import Foundation
import Kernels
import TestHelpers
import XCTest
@testable import HRM

final class BucketedCarryTests: XCTestCase {
    override func setUp() { KernelThreads.configure(threads: 2) }

    /// D = 8, 2 heads, 1 + 1 layers, cycles 2/2, a 4x4 canvas (seqLen 16), P = 2 (ndim 12, zero padded).
    static let config = HRMConfig(
        hiddenSize: 8, numHeads: 2, expansion: 4, hLayers: 1, lLayers: 1, hCycles: 2, lCycles: 2, haltMaxSteps: 2,
        puzzleEmbeddingDim: 12, numPuzzleIdentifiers: 3, vocabSize: 12, seqLen: 16)

    func testValidateSideAndPositions() throws {
        let config = Self.config
        XCTAssertEqual(config.canvasWidth, 4)
        XCTAssertNoThrow(try HRMCarry<Float>.validateSide(nil, config: config))
        for side in 1...4 { XCTAssertNoThrow(try HRMCarry<Float>.validateSide(side, config: config)) }
        for side in [0, -1, 5, Int.max, Int.min] {
            XCTAssertThrowsError(try HRMCarry<Float>.validateSide(side, config: config)) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains("side is \(side)") && message.contains("1...4"), message)
            }
        }
        var notSquare = config
        notSquare.seqLen = 12
        XCTAssertNil(notSquare.canvasWidth)
        XCTAssertNoThrow(try HRMCarry<Float>.validateSide(nil, config: notSquare))
        XCTAssertThrowsError(try HRMCarry<Float>.validateSide(2, config: notSquare)) { error in
            XCTAssertTrue("\(error)".contains("seqLen is 12"), "\(error)")
        }
        XCTAssertEqual(HRMConfig.paper.canvasWidth, 30)

        // P = 2 puzzle tokens at 0, 1; token t of the 3x3 crop at 2 + (t / 3) * 4 + t % 3.
        XCTAssertEqual(HRMCarry<Float>.positions(side: 3, config: config), [0, 1, 2, 3, 4, 6, 7, 8, 10, 11, 12])
        XCTAssertEqual(HRMCarry<Float>.positions(side: 4, config: config), (0..<18).map { Int32($0) })
        XCTAssertNil(HRMCarry<Float>.positions(side: nil, config: config))

        let carry = HRMCarry<Float>(config: config, batch: 3, side: 3)
        XCTAssertEqual(carry.side, 3)
        XCTAssertEqual(carry.tokensPerExample, 9)
        XCTAssertEqual(carry.rowsPerSlot, 11)
        XCTAssertEqual(carry.zH.shape, [3, 11, 8])
        XCTAssertEqual(carry.zL.shape, [3, 11, 8])
        let full = HRMCarry<Float>(config: config, batch: 3)
        XCTAssertNil(full.side)
        XCTAssertEqual(full.tokensPerExample, 16)
        XCTAssertEqual(full.rowsPerSlot, 18)
    }

    /// A model with random q_head and puzzle table (every gradient path non-zero), inputs for `tokens` per slot.
    func makeModel<T: KernelScalar>(_ type: T.Type, tokens: Int) -> (HRMModel<T>, [Int32], [Int32], [Int32]) {
        let model = HRMModel<T>(config: Self.config, maxBatch: 2)
        model.parameters.initialize(seed: 42)
        var generator = SplitMix64(seed: 9)
        let q = model.parameters.layout[ParameterLayout.prefix + "q_head.weight"]
        for i in 0..<q.count { model.parameters.values[q.offset + i] = T(generator.nextNormal() * 0.5) }
        for i in 0..<model.parameters.puzzleEmbedding.count { model.parameters.puzzleEmbedding[i] = T(generator.nextNormal() * 0.3) }
        let inputs: [Int32] = (0..<(2 * tokens)).map { _ in Int32(generator.next() % 12) }
        let labels: [Int32] = (0..<(2 * tokens)).map { i in i % 5 == 0 ? 0 : Int32(1 + generator.next() % 11) }
        return (model, inputs, labels, [2, 3])
    }

    /// Runs one step with gradient on `carry`, the loss, and backward; returns (logits, q, zH, zL, gradients, puzzle gradients).
    func stepAndBackward(_ model: HRMModel<Float>, carry: HRMCarry<Float>, inputs: [Int32], labels: [Int32], identifiers: [Int32])
        -> (logits: [Float], q: [Float], zH: [Float], zL: [Float], gradients: [Float], puzzle: [Float]) {
        let batch = identifiers.count, tokens = carry.tokensPerExample, vocab = Self.config.vocabSize
        carry.resetAll(model: model)
        model.innerStep(carry: carry, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: true)
        let logits = Array(model.logits.array.prefix(batch * tokens * vocab)), q = Array(model.qLogits.array.prefix(2 * batch))
        let dlogits = Tensor<Float>(shape: [batch, tokens, vocab]), dq = Tensor<Float>(shape: [batch, 2])
        _ = labels.withUnsafeBufferPointer {
            sequenceStablemaxLoss(dlogits.pointer, model.logits.pointer, $0.baseAddress!, batch: batch, tokens: tokens, vocab: vocab, ignoreLabel: 0)
        }
        let targets: [Double] = [1, 0.25]
        _ = targets.withUnsafeBufferPointer { binaryCrossEntropyWithLogits(dq.pointer, model.qLogits.pointer, stride: 2, $0.baseAddress!, count: batch, gradientScale: 0.5) }
        _ = targets.withUnsafeBufferPointer { binaryCrossEntropyWithLogits(dq.pointer + 1, model.qLogits.pointer + 1, stride: 2, $0.baseAddress!, count: batch, gradientScale: 0.5) }
        model.zeroGradients()
        model.backward(dlogits: dlogits.pointer, dq: dq.pointer, batch: batch)
        return (logits, q, carry.zH.array, carry.zL.array, model.gradients.array, Array(model.puzzleGradients.array.prefix(batch * Self.config.puzzleEmbeddingDim)))
    }

    func testSideEqualToCanvasIsBitIdenticalToTheFullCarry() {
        let (model, inputs, labels, identifiers) = makeModel(Float.self, tokens: 16)
        let full = stepAndBackward(model, carry: HRMCarry<Float>(config: Self.config, batch: 2), inputs: inputs, labels: labels, identifiers: identifiers)
        let side = stepAndBackward(model, carry: HRMCarry<Float>(config: Self.config, batch: 2, side: 4), inputs: inputs, labels: labels, identifiers: identifiers)
        XCTAssertEqual(side.logits, full.logits)
        XCTAssertEqual(side.q, full.q)
        XCTAssertEqual(side.zH, full.zH)
        XCTAssertEqual(side.zL, full.zL)
        XCTAssertEqual(side.gradients, full.gradients)
        XCTAssertEqual(side.puzzle, full.puzzle)
        XCTAssertTrue(full.gradients.contains { $0 != 0 } && full.puzzle.contains { $0 != 0 })
    }

    /// The recorded geometry survives a step on a carry of another side (as the ACT target step on
    /// the same carry, or an evaluation step in between): backward gives the same gradients.
    func testBackwardUsesTheRecordedGeometry() {
        let (model, inputs, labels, identifiers) = makeModel(Float.self, tokens: 9)
        let small = HRMCarry<Float>(config: Self.config, batch: 2, side: 3)
        let reference = stepAndBackward(model, carry: small, inputs: inputs, labels: labels, identifiers: identifiers)

        small.resetAll(model: model)
        model.innerStep(carry: small, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: true)
        let dlogits = Tensor<Float>(shape: [2, 9, 12]), dq = Tensor<Float>(shape: [2, 2])
        _ = labels.withUnsafeBufferPointer {
            sequenceStablemaxLoss(dlogits.pointer, model.logits.pointer, $0.baseAddress!, batch: 2, tokens: 9, vocab: 12, ignoreLabel: 0)
        }
        let targets: [Double] = [1, 0.25]
        _ = targets.withUnsafeBufferPointer { binaryCrossEntropyWithLogits(dq.pointer, model.qLogits.pointer, stride: 2, $0.baseAddress!, count: 2, gradientScale: 0.5) }
        _ = targets.withUnsafeBufferPointer { binaryCrossEntropyWithLogits(dq.pointer + 1, model.qLogits.pointer + 1, stride: 2, $0.baseAddress!, count: 2, gradientScale: 0.5) }
        // Steps without gradient on a full carry and on a side-2 carry in between.
        let full = HRMCarry<Float>(config: Self.config, batch: 2)
        full.resetAll(model: model)
        model.innerStep(carry: full, inputs: (0..<32).map { Int32($0 % 12) }, puzzleIdentifiers: identifiers, withGradient: false)
        let tiny = HRMCarry<Float>(config: Self.config, batch: 2, side: 2)
        tiny.resetAll(model: model)
        model.innerStep(carry: tiny, inputs: [2, 3, 4, 5, 6, 7, 8, 9], puzzleIdentifiers: identifiers, withGradient: false)
        model.zeroGradients()
        model.backward(dlogits: dlogits.pointer, dq: dq.pointer, batch: 2)
        XCTAssertEqual(model.gradients.array, reference.gradients)
        XCTAssertEqual(Array(model.puzzleGradients.array.prefix(2 * 12)), reference.puzzle)
    }

    func testBucketedCarryResetAndCopy() {
        let (model, inputs, _, identifiers) = makeModel(Float.self, tokens: 9)
        let carry = HRMCarry<Float>(config: Self.config, batch: 2, side: 3)
        carry.resetAll(model: model)
        model.innerStep(carry: carry, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: false)
        let hInit = model.parameters.layout[ParameterLayout.prefix + "H_init"], lInit = model.parameters.layout[ParameterLayout.prefix + "L_init"]
        let copy = HRMCarry<Float>(config: Self.config, batch: 2, side: 3)
        copy.zH.copy(from: carry.zH); copy.zL.copy(from: carry.zL)
        carry.reset(slot: 1, model: model)
        let dim = 8, rows = 11
        for row in 0..<rows {
            for j in 0..<dim {
                XCTAssertEqual(carry.zH[(rows + row) * dim + j], model.parameters.values[hInit.offset + j])
                XCTAssertEqual(carry.zL[(rows + row) * dim + j], model.parameters.values[lInit.offset + j])
                XCTAssertEqual(carry.zH[row * dim + j], copy.zH[row * dim + j], "slot 0 untouched")
            }
        }
        XCTAssertNotEqual(Array(copy.zH.array[(rows * dim)...]), Array(carry.zH.array[(rows * dim)...]))
    }

    /// Finite differences (Double) of one differentiated step on a side-3 carry of the 4x4 canvas,
    /// the real loss (stablemax CE + 0.5 BCE halt / continue), a few elements of every tensor and the puzzle table.
    func testBucketedStepGradientMatchesFiniteDifferences() {
        let (model, inputs, labels, identifiers) = makeModel(Double.self, tokens: 9)
        let config = Self.config
        let batch = 2, tokens = 9
        let base = HRMCarry<Double>(config: config, batch: batch, side: 3)
        base.resetAll(model: model)
        model.noGradientCycles(carry: base, inputs: inputs, puzzleIdentifiers: identifiers)
        let work = HRMCarry<Double>(config: config, batch: batch, side: 3)
        let haltTargets: [Double] = [1, 0], continueTargets: [Double] = [0.3, 0.8]
        let dlogits = Tensor<Double>(shape: [batch, tokens, config.vocabSize])
        let dq = Tensor<Double>(shape: [batch, 2])
        func loss(backward: Bool) -> Double {
            work.zH.copy(from: base.zH)
            work.zL.copy(from: base.zL)
            model.gradientStepOnly(carry: work, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: backward)
            let lm = labels.withUnsafeBufferPointer {
                sequenceStablemaxLoss(backward ? dlogits.pointer : nil, model.logits.pointer, $0.baseAddress!, batch: batch, tokens: tokens, vocab: config.vocabSize, ignoreLabel: 0).loss
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
                                  analytic: Array(analytic[entry.offset..<(entry.offset + entry.count)]), maxChecks: 12) { loss(backward: false) }
        }
        finiteDifferenceCheck(ParameterLayout.puzzleEmbeddingName, parameter: model.parameters.puzzleEmbedding.pointer,
                              count: model.parameters.puzzleEmbedding.count, analytic: puzzleAnalytic, maxChecks: 48) { loss(backward: false) }
        XCTAssertTrue(puzzleAnalytic.contains { $0 != 0 })
    }

    /// The canvas positions matter: the same 9 tokens as the side-3 crop of a 4x4 canvas and as a
    /// whole 3x3 canvas (seqLen 9, positions 0 ..< P + 9), same weights, give different logits.
    func testCanvasPositionsChangeTheResult() {
        let (model, inputs, _, identifiers) = makeModel(Float.self, tokens: 9)
        var contiguousConfig = Self.config
        contiguousConfig.seqLen = 9
        let contiguous = HRMModel<Float>(config: contiguousConfig, maxBatch: 2)
        contiguous.parameters.values.copy(from: model.parameters.values)
        contiguous.parameters.puzzleEmbedding.copy(from: model.parameters.puzzleEmbedding)
        let a = HRMCarry<Float>(config: Self.config, batch: 2, side: 3), b = HRMCarry<Float>(config: contiguousConfig, batch: 2)
        a.resetAll(model: model); b.resetAll(model: contiguous)
        model.innerStep(carry: a, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: false)
        contiguous.innerStep(carry: b, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: false)
        let count = 2 * 9 * 12
        let la = Array(model.logits.array.prefix(count)), lb = Array(contiguous.logits.array.prefix(count))
        var largest: Float = 0
        for i in 0..<count { largest = max(largest, abs(la[i] - lb[i])) }
        print("side-3 crop of a 4x4 canvas vs 9 contiguous tokens: largest |logit diff| = \(largest)")
        XCTAssertGreaterThan(largest, 1e-4)
    }

    /// Short sequences (puzzle tokens included) run the blocked attention kernel, long ones the flash
    /// kernel (flashAttentionMinimumSequence); alwaysFlashAttention forces flash at every length.
    func testAttentionKernelFollowsTheSequenceLength() {
        var config = Self.config
        config.seqLen = 15 * 15
        let model = HRMModel<Float>(config: config, maxBatch: 1)
        for side in [8, 13, 14, 15] {
            let seq = config.puzzleTokens + side * side
            let geometry = model.geometry(for: HRMCarry<Float>(config: config, batch: 1, side: side == 15 ? nil : side))
            XCTAssertEqual(geometry.seq, seq)
            XCTAssertEqual(geometry.blockedAttention != nil, seq < flashAttentionMinimumSequence, "side \(side): seq \(seq)")
        }
    }
}
