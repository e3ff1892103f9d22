// Where the model runs the bf16 attention (Kernels/FlashAttention.swift, AVX512BF16/), with the emulated
// builds of KernelsLanes16 set for tests, on a 16x16 canvas (257 tokens: the flash kernels), head dim 16.
// A bf16 forward paired with the fp32 backward runs in steps without gradient only: such a step differs
// from the fp32 model at bf16's level (so the bf16 forward ran) and stays within 5e-2 of its largest value
// (2.4% measured after six block applications); the recorded part of a gradient step, run alone from the
// same carry, is bit-identical to fp32 (its backward recomputes the fp32 softmax its forward used). The
// trainable build (bf16 forward and backward) runs in gradient steps too: their forward is the one
// without gradient bit for bit, and the 1-step gradients stay within 1.5% of the largest fp32 gradient
// (0.6% measured; a dropped lone last query row gives 1.8%).
import Foundation
import Kernels
import KernelsLanes16
import XCTest
@testable import HRM
import TestHelpers

final class BF16AttentionStepTests: XCTestCase {
    override func tearDown() {
        bf16AttentionForTests = nil
        KernelThreads.configure(threads: 0)
    }

    static let config = HRMConfig(
        hiddenSize: 32, numHeads: 2, expansion: 4, hLayers: 1, lLayers: 1, hCycles: 2, lCycles: 2, haltMaxSteps: 2,
        puzzleEmbeddingDim: 32, numPuzzleIdentifiers: 4, vocabSize: 12, seqLen: 256)

    static let emulated = LaneBuilds.bf16Emulated

    enum Part { case innerStep, recordedStepOnly }

    /// A model (fp32 matmuls, weights of seed 5), a carry of random states and random inputs (seed 19), made
    /// with `build` as the tests' bf16 attention (nil: none), and the generator to draw more from.
    func withModel<R>(build: FlashAttentionBuild?, _ body: (HRMModel<Float>, HRMCarry<Float>, [Int32], inout SplitMix64) -> R) -> R {
        KernelThreads.configure(threads: 2)
        bf16AttentionForTests = build
        defer { bf16AttentionForTests = nil }
        let config = Self.config, batch = 2
        let model = HRMModel<Float>(config: config, maxBatch: batch)
        XCTAssertNil(model.bf16Matmul, "fp32 matmuls: only the attention differs")
        model.parameters.initialize(seed: 5)
        var generator = SplitMix64(seed: 19)
        let inputs: [Int32] = (0..<(batch * config.seqLen)).map { _ in Int32(generator.next() % 12) }
        let carry = HRMCarry<Float>(config: config, batch: batch)
        carry.resetAll(model: model)
        for i in 0..<carry.zH.count { carry.zH[i] = Float(generator.nextNormal()) }
        for i in 0..<carry.zL.count { carry.zL[i] = Float(generator.nextNormal()) }
        return body(model, carry, inputs, &generator)
    }

    func run(_ part: Part, bf16Attention: Bool, withGradient: Bool, build: FlashAttentionBuild = BF16AttentionStepTests.emulated) -> [Float] {
        withModel(build: bf16Attention ? build : nil) { model, carry, inputs, _ in
            switch part {
            case .innerStep: model.innerStep(carry: carry, inputs: inputs, puzzleIdentifiers: [1, 2], withGradient: withGradient)
            case .recordedStepOnly: model.gradientStepOnly(carry: carry, inputs: inputs, puzzleIdentifiers: [1, 2], withGradient: withGradient)
            }
            return Array(model.logits.array.prefix(carry.batch * Self.config.seqLen * Self.config.vocabSize)) + carry.zH.array
        }
    }

    func largestDifference(_ a: [Float], _ b: [Float]) -> Float {
        XCTAssertEqual(a.count, b.count)
        var largest: Float = 0
        for (x, y) in zip(a, b) { let d = abs(x - y); if !(d <= largest) { largest = d } }
        return largest
    }

    func testBF16AttentionOnlyWithoutGradient() {
        guard KernelsCPU.hasAVX2FMA else { return XCTAssertNil(FlashAttentionBuild.bf16) }
        XCTAssertGreaterThanOrEqual(Self.config.seqLen + 1, flashAttentionMinimumSequence, "the flash kernels, not the blocked one")
        // a whole step without gradient: the bf16 forward runs (differs from fp32 at bf16's level) and stays close
        let fp32 = run(.innerStep, bf16Attention: false, withGradient: false), bf16 = run(.innerStep, bf16Attention: true, withGradient: false)
        let scale = fp32.map { abs($0) }.max() ?? 0, difference = largestDifference(bf16, fp32)
        print("step without gradient, bf16 attention vs fp32: largest |diff| \(difference) (max |fp32| \(scale))")
        XCTAssertGreaterThan(difference, 1e-5 * scale, "the bf16 forward did not run")
        XCTAssertLessThanOrEqual(difference, 5e-2 * scale, "the bf16 matmuls' golden tolerance (5e-2)")
        // the recorded part alone from the same carry: fp32, bit for bit, when it keeps activations; bf16 when not
        let recordedFP32 = run(.recordedStepOnly, bf16Attention: false, withGradient: true)
        let recordedSetting = run(.recordedStepOnly, bf16Attention: true, withGradient: true)
        XCTAssertEqual(recordedSetting, recordedFP32, "a step that keeps activations must run the fp32 attention")
        let plainFP32 = run(.recordedStepOnly, bf16Attention: false, withGradient: false)
        let plainBF16 = run(.recordedStepOnly, bf16Attention: true, withGradient: false)
        XCTAssertEqual(plainFP32, recordedFP32, "with or without gradient, the fp32 step computes the same")
        XCTAssertGreaterThan(largestDifference(plainBF16, plainFP32), 1e-5 * scale, "without gradient the bf16 forward runs")
    }

    /// The whole inner step with gradient from a fixed carry, then the backward from fixed upstream
    /// gradients: the parameter gradients (fp32 attention, or `build`).
    /// `backwardBuild`: the tests' hook set to it between the step and its backward (nil: left as `build`).
    func gradients(build: FlashAttentionBuild?, backwardBuild: FlashAttentionBuild?? = nil) -> [Float] {
        withModel(build: build) { model, carry, inputs, generator in
            model.innerStep(carry: carry, inputs: inputs, puzzleIdentifiers: [1, 2], withGradient: true)
            if let backwardBuild { bf16AttentionForTests = backwardBuild }
            let batch = carry.batch
            let dlogits = Tensor<Float>(shape: [batch, carry.tokensPerExample, Self.config.vocabSize]), dq = Tensor<Float>(shape: [batch, 2])
            for i in 0..<dlogits.count { dlogits[i] = Float(generator.nextNormal()) * 1e-3 }
            for i in 0..<dq.count { dq[i] = Float(generator.nextNormal()) * 0.1 }
            model.zeroGradients()
            model.backward(dlogits: dlogits.pointer, dq: dq.pointer, batch: batch)
            return model.gradients.array
        }
    }

    func testTrainableBF16AttentionInGradientSteps() {
        guard KernelsCPU.hasAVX2FMA else { return XCTAssertNil(FlashAttentionBuild.bf16) }
        let trainable = LaneBuilds.bf16TrainingEmulated
        XCTAssertTrue(trainable.trainable)
        XCTAssertFalse(Self.emulated.trainable)
        // the recorded part with gradient runs the bf16 forward: the one without gradient, bit for bit, not fp32's
        let recorded = run(.recordedStepOnly, bf16Attention: true, withGradient: true, build: trainable)
        let plain = run(.recordedStepOnly, bf16Attention: true, withGradient: false, build: trainable)
        let fp32 = run(.recordedStepOnly, bf16Attention: false, withGradient: true)
        XCTAssertEqual(recorded.count, plain.count)
        XCTAssertTrue(recorded == plain, "with or without gradient, the bf16 step computes the same")
        let scale = fp32.map { abs($0) }.max() ?? 0
        XCTAssertGreaterThan(largestDifference(recorded, fp32), 1e-5 * scale, "the bf16 forward ran in the gradient step")
        // the 1-step gradients through the bf16 backward (counted: the backward the forward ran with), against fp32 attention's
        let (counting, calls) = LaneBuilds.counted(trainable)
        let expected = gradients(build: nil), actual = gradients(build: counting)
        // one call per (batch, head) pair of each recorded block application: 2 examples x 2 heads x (1 H + 1 L layer)
        XCTAssertEqual(calls.backward, 2 * 2 * 2, "the gradient step's backward ran the bf16 build")
        let largest = expected.map { abs($0) }.max() ?? 0, difference = largestDifference(actual, expected)
        print("1-step gradients, bf16 attention forward and backward vs fp32: largest |diff| \(difference) (max |g| \(largest))")
        XCTAssertGreaterThan(largest, 0)
        XCTAssertGreaterThan(difference, 1e-6 * largest, "the bf16 backward ran")
        XCTAssertLessThanOrEqual(difference, 1.5e-2 * largest, "2.5x the 0.6% measured")
        // the backward runs the build the recorded forward ran, whatever is set by then: the same gradients, bit for bit
        let (recounting, recounted) = LaneBuilds.counted(trainable)
        let changedAfter = gradients(build: recounting, backwardBuild: .some(nil))
        XCTAssertEqual(recounted.backward, 2 * 2 * 2, "the recorded forward's build ran the backward")
        XCTAssertTrue(changedAfter == actual, "the same gradients with the tests' hook cleared before the backward")
    }
}
