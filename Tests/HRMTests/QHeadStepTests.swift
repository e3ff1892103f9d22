// HRMModel.qHeadStep, the ACT trainer's Q-continue target step: the same Q logits and the same
// new carry as a full no-gradient inner step, bit for bit, while the model's logits, qLogits and
// the recorded step's activations stay as they were (the trainer reads them after it).
import HRM
import Kernels
import XCTest

final class QHeadStepTests: XCTestCase {
    func testQHeadStepMatchesInnerStepAndKeepsTheOutputs() throws {
        var config = HRMConfig(hiddenSize: 16, numHeads: 2, expansion: 2, hLayers: 1, lLayers: 1, hCycles: 2, lCycles: 2, haltMaxSteps: 3)
        config.seqLen = 16
        config.numPuzzleIdentifiers = 4
        let model = HRMModel<Float>(config: config, maxBatch: 3)
        model.parameters.initialize(seed: 9)
        var rng = SplitMix64(seed: 4)
        // The spec's init sets q_head to weight 0, bias -5 (every Q logit -5): give it weights.
        let qWeight = model.parameters.pointer(ParameterLayout.prefix + "q_head.weight")
        for k in 0..<(2 * 16) { qWeight[k] = Float(rng.nextUnit() - 0.5) }
        let inputs = (0..<(3 * 16)).map { _ in Int32(rng.next() % 12) }
        let identifiers: [Int32] = [1, 4, 2]
        for side in [nil, 3] as [Int?] {
            let tokens = side.map { $0 * $0 } ?? 16
            let stepInputs = Array(inputs.prefix(3 * tokens))
            let carry = HRMCarry<Float>(config: config, batch: 3, side: side)
            carry.resetAll(model: model)
            model.innerStep(carry: carry, inputs: stepInputs, puzzleIdentifiers: identifiers, withGradient: true)
            let logits = model.logits.array, qLogits = model.qLogits.array
            let probe = HRMCarry<Float>(config: config, batch: 3, side: side), full = HRMCarry<Float>(config: config, batch: 3, side: side)
            probe.zH.copy(from: carry.zH); probe.zL.copy(from: carry.zL)
            full.zH.copy(from: carry.zH); full.zL.copy(from: carry.zL)

            var q = [Float](repeating: .nan, count: 6)
            stepInputs.withUnsafeBufferPointer { i in
                identifiers.withUnsafeBufferPointer { ids in
                    q.withUnsafeMutableBufferPointer { model.qHeadStep(carry: probe, inputs: i.baseAddress!, puzzleIdentifiers: ids.baseAddress!, batch: 3, qLogits: $0.baseAddress!) }
                }
            }
            XCTAssertEqual(model.logits.array.map(\.bitPattern), logits.map(\.bitPattern), "side \(String(describing: side)): logits kept")
            XCTAssertEqual(model.qLogits.array.map(\.bitPattern), qLogits.map(\.bitPattern), "side \(String(describing: side)): qLogits kept")

            model.innerStep(carry: full, inputs: stepInputs, puzzleIdentifiers: identifiers, withGradient: false)
            XCTAssertEqual(q.map(\.bitPattern), Array(model.qLogits.array.prefix(6)).map(\.bitPattern), "side \(String(describing: side)): Q head")
            XCTAssertEqual(probe.zH.array.map(\.bitPattern), full.zH.array.map(\.bitPattern), "side \(String(describing: side)): new zH")
            XCTAssertEqual(probe.zL.array.map(\.bitPattern), full.zL.array.map(\.bitPattern), "side \(String(describing: side)): new zL")
            XCTAssertNotEqual(q.map(\.bitPattern), Array(qLogits.prefix(6)).map(\.bitPattern), "the step moved the carry")
        }
    }
}
