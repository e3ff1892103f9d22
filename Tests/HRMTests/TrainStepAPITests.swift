// One full ACT training step (Tests/Fixtures/train_step.safetensors, sequence in its README) written
// with the public API the trainer will use: innerStep with gradient, the ACT target from a second
// no-gradient step, losses, backward of total / global batch, AdamATan2 and sparse sign-SGD.
// This proves the API suffices; the real trainer (ACT carry bookkeeping, batching) is
// Training.ACTTrainer, tested in TrainingTests.
import Foundation
import Kernels
import TestHelpers
import XCTest
@testable import HRM

final class TrainStepAPITests: XCTestCase {
    func testOneTrainingStepMatchesReference() throws {
        KernelThreads.configure(threads: 2)
        let weights = try Fixtures.load("model_a.safetensors")
        let fixture = try Fixtures.load("train_step.safetensors")
        let config = HRMConfig(hiddenSize: 32, numHeads: 2, hLayers: 1, lLayers: 1, haltMaxSteps: 2,
                               puzzleEmbeddingDim: 32, numPuzzleIdentifiers: 4, seqLen: 16)
        let batch = 3, seqLen = 16, vocab = 12, globalBatch = 3.0
        let model = HRMModel<Float>(config: config, maxBatch: batch)
        try model.load(from: weights, source: "model_a.safetensors")
        let inputs = try fixture.ints("batch.inputs"), labels = try fixture.ints("batch.labels")
        let identifiers = try fixture.ints("batch.puzzle_identifiers")

        // 1-3: fresh carry, inner step with gradient, steps/halted.
        let carry = HRMCarry<Float>(config: config, batch: batch)
        carry.resetAll(model: model)
        model.innerStep(carry: carry, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: true)
        let logits = Array(model.logits.array.prefix(batch * seqLen * vocab))
        let qHalt = (0..<batch).map { model.qLogits[2 * $0] }, qContinue = (0..<batch).map { model.qLogits[2 * $0 + 1] }
        assertClose("act.q_halt_logits", qHalt, try fixture.floats("act.q_halt_logits"))
        assertClose("act.q_continue_logits", qContinue, try fixture.floats("act.q_continue_logits"))
        let steps = [Int32](repeating: 1, count: batch)
        let halted = (0..<batch).map { Int32((steps[$0] >= Int32(config.haltMaxSteps) || qHalt[$0] > qContinue[$0]) ? 1 : 0) }
        XCTAssertEqual(steps, try fixture.ints("act.steps"))
        XCTAssertEqual(halted, try fixture.ints("act.halted"))

        // 4: target from a second no-gradient step on the new carry (same weights, same data).
        model.innerStep(carry: carry, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: false)
        let nextHalt = (0..<batch).map { Double(model.qLogits[2 * $0]) }, nextContinue = (0..<batch).map { Double(model.qLogits[2 * $0 + 1]) }
        assertClose("act.next_q_halt_logits", nextHalt, try fixture.floats("act.next_q_halt_logits"))
        assertClose("act.next_q_continue_logits", nextContinue, try fixture.floats("act.next_q_continue_logits"))
        let target = (0..<batch).map { b -> Double in
            let x = steps[b] >= Int32(config.haltMaxSteps) ? nextHalt[b] : max(nextHalt[b], nextContinue[b])
            return 1 / (1 + exp(-x))
        }
        assertClose("act.target_q_continue", target, try fixture.floats("act.target_q_continue"))

        // 5-6: losses and the gradient of total / global batch.
        let dlogits = Tensor<Float>(shape: [batch, seqLen, vocab])
        let lm = logits.withUnsafeBufferPointer { lp in labels.withUnsafeBufferPointer {
            sequenceStablemaxLoss(dlogits.pointer, lp.baseAddress!, $0.baseAddress!, batch: batch, tokens: seqLen, vocab: vocab, ignoreLabel: 0, gradientScale: 1 / globalBatch)
        } }
        let correct = (0..<batch).map { b -> Double in
            for t in 0..<seqLen where labels[b * seqLen + t] != 0 {
                let row = Array(logits[((b * seqLen + t) * vocab)..<((b * seqLen + t + 1) * vocab)])
                if row.indices.max(by: { row[$0] < row[$1] })! != Int(labels[b * seqLen + t]) { return 0 }
            }
            return 1
        }
        XCTAssertEqual(correct.map { Int32($0) }, try fixture.ints("act.seq_is_correct"))
        let qFirst = Tensor<Float>(shape: [batch, 2])
        for b in 0..<batch { qFirst[2 * b] = qHalt[b]; qFirst[2 * b + 1] = qContinue[b] }
        let dq = Tensor<Float>(shape: [batch, 2])
        let haltLoss = correct.withUnsafeBufferPointer { binaryCrossEntropyWithLogits(dq.pointer, qFirst.pointer, stride: 2, $0.baseAddress!, count: batch, gradientScale: 0.5 / globalBatch) }
        let continueLoss = target.withUnsafeBufferPointer { binaryCrossEntropyWithLogits(dq.pointer + 1, qFirst.pointer + 1, stride: 2, $0.baseAddress!, count: batch, gradientScale: 0.5 / globalBatch) }
        assertClose("loss.lm_loss", [lm.loss], try fixture.floats("loss.lm_loss"))
        assertClose("loss.q_halt_loss", [haltLoss], try fixture.floats("loss.q_halt_loss"))
        assertClose("loss.q_continue_loss", [continueLoss], try fixture.floats("loss.q_continue_loss"))
        assertClose("loss.total", [lm.loss + 0.5 * (haltLoss + continueLoss)], try fixture.floats("loss.total"))
        model.zeroGradients()
        model.backward(dlogits: dlogits.pointer, dq: dq.pointer, batch: batch)

        // 7: AdamATan2 (t = 1) on every trainable arena tensor.
        let layout = model.parameters.layout
        let m = Tensor<Float>(shape: [layout.trainableCount]), v = Tensor<Float>(shape: [layout.trainableCount])
        let lr = 1e-4
        for entry in layout.trainableEntries {
            adamATan2Step(model.parameters.values.pointer + entry.offset, m.pointer + entry.offset, v.pointer + entry.offset,
                          model.gradients.pointer + entry.offset, count: entry.count, step: 1,
                          learningRate: lr, beta1: 0.9, beta2: 0.95, weightDecay: 0.1)
        }
        // 8: sparse sign-SGD on the puzzle rows of the batch.
        let ndim = config.puzzleEmbeddingDim
        identifiers.withUnsafeBufferPointer {
            sparseSignSGDStep(model.parameters.puzzleEmbedding.pointer, tableRows: config.numPuzzleIdentifiers + 1, ndim: ndim,
                              $0.baseAddress!, model.puzzleGradients.pointer, slots: batch, learningRate: 1e-2, weightDecay: 0.1)
        }
        // Compare: 1e-6, except where |g| < 1e-4 max|g| of its tensor, whose float32 sign may differ from the
        // reference's: there AdamATan2's first step goes the other way (a difference up to lr*pi/2), which is
        // allowed for at most 0.5% of a tensor's elements (as in TrainStepGoldenTests).
        for entry in layout.trainableEntries {
            let expected = try fixture.floats("after." + entry.name)
            let gradient = Array(UnsafeBufferPointer(start: model.gradients.pointer + entry.offset, count: entry.count))
            let scale = gradient.map { abs($0) }.max() ?? 0
            var largest = 0.0, flips = 0
            for i in 0..<entry.count {
                let difference = abs(Double(model.parameters.values[entry.offset + i]) - Double(expected[i]))
                if abs(gradient[i]) < 1e-4 * scale && difference > 1e-6 {
                    flips += 1
                    XCTAssertLessThanOrEqual(difference, lr * Double.pi / 2 + 1e-6, "after.\(entry.name)[\(i)]")
                } else {
                    largest = max(largest, difference)
                    XCTAssertLessThanOrEqual(difference, 1e-6, "after.\(entry.name)[\(i)]")
                }
            }
            XCTAssertLessThanOrEqual(Double(flips), 0.005 * Double(entry.count), "after.\(entry.name): \(flips) opposite-sign steps of \(entry.count)")
            print("after.\(entry.name): largest |diff| = \(largest), \(flips) opposite-sign steps on tiny gradients")
        }
        assertClose("after.\(ParameterLayout.puzzleEmbeddingName)", model.parameters.puzzleEmbedding.array,
                    try fixture.floats("after." + ParameterLayout.puzzleEmbeddingName), atol: 1e-6, rtol: 1e-6)
    }
}
