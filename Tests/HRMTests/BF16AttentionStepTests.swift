// Where the model runs the bf16 attention forward (Kernels/FlashAttention.swift, AVX512BF16/): in steps
// without gradient only. With the emulated build of KernelsLanes16 set for tests, on a 16x16 canvas (257
// tokens: the flash kernels), head dim 16: a step without gradient differs from the fp32 model at bf16's
// level (so the bf16 forward ran) and stays within 5e-2 of its largest value (2.4% measured after six
// block applications); the recorded part of a gradient step, run
// alone from the same carry, is bit-identical to fp32 (its backward recomputes the fp32 softmax its
// forward used).
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

    func run(_ part: Part, bf16Attention: Bool, withGradient: Bool) -> [Float] {
        KernelThreads.configure(threads: 2)
        bf16AttentionForTests = bf16Attention ? Self.emulated : nil
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
        switch part {
        case .innerStep: model.innerStep(carry: carry, inputs: inputs, puzzleIdentifiers: [1, 2], withGradient: withGradient)
        case .recordedStepOnly: model.gradientStepOnly(carry: carry, inputs: inputs, puzzleIdentifiers: [1, 2], withGradient: withGradient)
        }
        return Array(model.logits.array.prefix(batch * config.seqLen * config.vocabSize)) + carry.zH.array
    }

    func largestDifference(_ a: [Float], _ b: [Float]) -> Float {
        XCTAssertEqual(a.count, b.count)
        var largest: Float = 0
        for (x, y) in zip(a, b) { let d = abs(x - y); if !(d <= largest) { largest = d } }
        return largest
    }

    func testBF16AttentionOnlyWithoutGradient() {
        guard KernelsCPU.hasAVX2FMA else { return XCTAssertNil(FlashAttentionBuild.bf16Forward) }
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
}
