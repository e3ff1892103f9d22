// HRMModel.qHeadStep, the ACT trainer's Q-continue target step: the same Q logits as a full
// no-gradient inner step (its last block computes only the first position, so up to the order of
// floating-point sums), the same new zL bit for bit and the same zH at each example's first position,
// while the model's logits, qLogits and the recorded step's activations stay as they were (the
// trainer reads them after it).
import HRM
import Kernels
import XCTest

final class QHeadStepTests: XCTestCase {
    func testQHeadStepMatchesInnerStepAndKeepsTheOutputs() throws {
        for hLayers in [1, 2] {
            try check(hLayers: hLayers)
        }
    }

    func check(hLayers: Int) throws {
        var config = HRMConfig(hiddenSize: 16, numHeads: 2, expansion: 2, hLayers: hLayers, lLayers: 1, hCycles: 2, lCycles: 2, haltMaxSteps: 3)
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
            let name = "H layers \(hLayers), side \(String(describing: side))"
            let expected = Array(model.qLogits.array.prefix(6))
            for (a, e) in zip(q, expected) { XCTAssertEqual(Double(a), Double(e), accuracy: 1e-5 * (1 + abs(Double(e))), "\(name): Q head") }
            XCTAssertEqual(probe.zL.array.map(\.bitPattern), full.zL.array.map(\.bitPattern), "\(name): new zL")
            let seq = probe.zH.count / (3 * 16), probeH = probe.zH.array, fullH = full.zH.array
            var differentRows = 0
            for b in 0..<3 {
                for d in 0..<16 {
                    XCTAssertEqual(Double(probeH[b * seq * 16 + d]), Double(fullH[b * seq * 16 + d]), accuracy: 1e-5, "\(name): new zH, example \(b) first row")
                }
                for r in 1..<seq where (0..<16).contains(where: { probeH[(b * seq + r) * 16 + $0] != fullH[(b * seq + r) * 16 + $0] }) { differentRows += 1 }
            }
            // the other rows are not computed (what makes the step cheaper): they keep the last block's input
            XCTAssertGreaterThan(differentRows, 0, "\(name): the last block ran on every row")
            XCTAssertNotEqual(q.map(\.bitPattern), Array(qLogits.prefix(6)).map(\.bitPattern), "the step moved the carry")
        }
    }
}
