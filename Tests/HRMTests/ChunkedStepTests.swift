// The fp32 block's chunked forward and backward (row chunks per worker, ReasoningModel.rowChunk) on
// enough rows for many chunks on two workers, against the same model run as one chunk on one worker
// (the whole-buffer order of the golden and finite-difference tests, whose tiny shapes fit one
// chunk): a step's logits, q logits, carry and every gradient agree to fp32 rounding.
import Foundation
import Kernels
import XCTest
@testable import HRM
import TestHelpers

final class ChunkedStepTests: XCTestCase {
    override func tearDown() { KernelThreads.configure(threads: 0) }

    // D 32, 2 heads, inter 256, 10x10 canvas + 1 puzzle token, batch 3: 303 rows per block, and
    // rows * D * inter >= 2^20 so the backward's row steps split over two workers.
    static let config = HRMConfig(
        hiddenSize: 32, numHeads: 2, expansion: 4, hLayers: 2, lLayers: 1, hCycles: 2, lCycles: 2, haltMaxSteps: 2,
        puzzleEmbeddingDim: 32, numPuzzleIdentifiers: 4, vocabSize: 12, seqLen: 100)

    struct StepResult { let logits: [Float], q: [Float], zH: [Float], zL: [Float], gradients: [Float], puzzle: [Float] }

    func step(rowChunk: Int, threads: Int) -> StepResult {
        KernelThreads.configure(threads: threads)
        let config = Self.config, batch = 3
        let model = HRMModel<Float>(config: config, maxBatch: batch)
        XCTAssertNil(model.bf16Matmul, "the fp32 path")
        model.rowChunk = rowChunk
        model.parameters.initialize(seed: 3)
        var generator = SplitMix64(seed: 17)
        let q = model.parameters.layout[ParameterLayout.prefix + "q_head.weight"]
        for i in 0..<q.count { model.parameters.values[q.offset + i] = Float(generator.nextNormal() * 0.5) }
        for i in 0..<model.parameters.puzzleEmbedding.count { model.parameters.puzzleEmbedding[i] = Float(generator.nextNormal() * 0.3) }
        let inputs: [Int32] = (0..<(batch * config.seqLen)).map { _ in Int32(generator.next() % 12) }
        let identifiers: [Int32] = [1, 3, 2]
        let carry = HRMCarry<Float>(config: config, batch: batch)
        carry.resetAll(model: model)
        model.innerStep(carry: carry, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: true)
        let dlogits = Tensor<Float>(shape: [batch, config.seqLen, config.vocabSize]), dq = Tensor<Float>(shape: [batch, 2])
        for i in 0..<dlogits.count { dlogits[i] = Float(generator.nextNormal() * 0.1) }
        for i in 0..<dq.count { dq[i] = Float(generator.nextNormal()) }
        model.zeroGradients()
        model.backward(dlogits: dlogits.pointer, dq: dq.pointer, batch: batch)
        return StepResult(logits: Array(model.logits.array.prefix(dlogits.count)), q: Array(model.qLogits.array.prefix(2 * batch)),
                          zH: carry.zH.array, zL: carry.zL.array, gradients: model.gradients.array,
                          puzzle: model.puzzleTableGradient(batch: batch).array)
    }

    func testChunkedStepMatchesOneChunkOnOneWorker() {
        let reference = step(rowChunk: 1 << 30, threads: 1)
        XCTAssertGreaterThan(reference.gradients.map { abs($0) }.max() ?? 0, 0, "gradients reach the weights")
        for (rowChunk, threads) in [(96, 2), (7, 2), (41, 1)] {
            let chunked = step(rowChunk: rowChunk, threads: threads)
            let label = "chunks of \(rowChunk) rows, \(threads) workers"
            XCTAssertEqual(chunked.gradients.count, reference.gradients.count, label)
            XCTAssertEqual(chunked.puzzle.count, reference.puzzle.count, label)
            let differences = [
                assertClose("\(label): logits", chunked.logits, reference.logits, atol: 1e-5, rtol: 1e-4),
                assertClose("\(label): q logits", chunked.q, reference.q, atol: 1e-5, rtol: 1e-4),
                assertClose("\(label): zH", chunked.zH, reference.zH, atol: 1e-5, rtol: 1e-4),
                assertClose("\(label): zL", chunked.zL, reference.zL, atol: 1e-5, rtol: 1e-4),
                assertClose("\(label): gradients", chunked.gradients, reference.gradients, atol: 1e-5, rtol: 1e-3),
                assertClose("\(label): puzzle gradients", chunked.puzzle, reference.puzzle, atol: 1e-5, rtol: 1e-3),
            ]
            print("\(label): largest |diff| logits \(differences[0]), gradients \(differences[4])")
        }
    }
}
