// The HRM model (Float) as the ACT trainer's and predictor's inner model: carries are
// HRMCarry, the dense parameters are the arena's trainable prefix, the puzzle table is
// trained separately by sparse sign-SGD.
import HRM
import Kernels

extension HRMModel: ACTInnerModel where T == Float {
    public typealias Carry = HRMCarry<Float>

    public var sequenceLength: Int { config.seqLen }
    public var vocabularySize: Int { config.vocabSize }
    public var puzzleIdentifierCount: Int { config.numPuzzleIdentifiers + 1 }

    public func makeCarry(batchSize: Int) -> HRMCarry<Float> {
        precondition(batchSize <= maxBatch, "batch \(batchSize) exceeds the model's maxBatch \(maxBatch)")
        let carry = HRMCarry<Float>(config: config, batch: batchSize)
        carry.resetAll(model: self)
        return carry
    }

    public func makeCarry(batchSize: Int, side: Int?) throws -> HRMCarry<Float> {
        precondition(batchSize <= maxBatch, "batch \(batchSize) exceeds the model's maxBatch \(maxBatch)")
        if let side { try HRMCarry<Float>.validateSide(side, config: config) }
        let carry = HRMCarry<Float>(config: config, batch: batchSize, side: side)
        carry.resetAll(model: self)
        return carry
    }

    public func tokensPerExample(of carry: HRMCarry<Float>) -> Int { carry.tokensPerExample }

    public func copyCarry(_ source: HRMCarry<Float>, to destination: HRMCarry<Float>) {
        destination.zH.copy(from: source.zH)
        destination.zL.copy(from: source.zL)
    }

    public func resetCarry(_ carry: HRMCarry<Float>, slots: [Int]) {
        for slot in slots { carry.reset(slot: slot, model: self) }
    }

    public func exportCarry(_ carry: HRMCarry<Float>) -> [Float] { carry.zH.array + carry.zL.array }

    public func importCarry(_ values: [Float], into carry: HRMCarry<Float>) {
        precondition(values.count == carry.zH.count + carry.zL.count, "carry snapshot has \(values.count) values, expected \(carry.zH.count + carry.zL.count)")
        values.withUnsafeBufferPointer { v in
            carry.zH.pointer.update(from: v.baseAddress!, count: carry.zH.count)
            carry.zL.pointer.update(from: v.baseAddress! + carry.zH.count, count: carry.zL.count)
        }
    }

    public func innerStep(carry: HRMCarry<Float>, inputs: UnsafePointer<Int32>, puzzleIdentifiers: UnsafePointer<Int32>, batchSize: Int,
                          logits: UnsafeMutablePointer<Float>, qHalt: UnsafeMutablePointer<Float>, qContinue: UnsafeMutablePointer<Float>,
                          recordForBackward: Bool) {
        innerStep(carry: carry, inputs: inputs, puzzleIdentifiers: puzzleIdentifiers, batch: batchSize, withGradient: recordForBackward)
        logits.update(from: self.logits.pointer, count: batchSize * carry.tokensPerExample * config.vocabSize)
        for slot in 0..<batchSize {
            qHalt[slot] = qLogits[slot * 2]
            qContinue[slot] = qLogits[slot * 2 + 1]
        }
    }

    public func backward(dLogits: UnsafePointer<Float>, dQHalt: UnsafePointer<Float>, dQContinue: UnsafePointer<Float>) {
        let batch = lastPuzzleIdentifiers.count
        var dq = [Float](repeating: 0, count: batch * 2)
        for slot in 0..<batch {
            dq[slot * 2] = dQHalt[slot]
            dq[slot * 2 + 1] = dQContinue[slot]
        }
        zeroGradients()
        dq.withUnsafeBufferPointer { backward(dlogits: dLogits, dq: $0.baseAddress!, batch: batch) }
    }

    public var denseParameters: UnsafeMutablePointer<Float> { parameters.values.pointer }
    public var denseGradients: UnsafeMutablePointer<Float> { gradients.pointer }
    public var denseParameterCount: Int { parameters.layout.trainableCount }
    public var puzzleEmbeddingTable: UnsafeMutablePointer<Float> { parameters.puzzleEmbedding.pointer }
    public var puzzleEmbeddingWidth: Int { config.puzzleEmbeddingDim }
    public var puzzleEmbeddingRowGradients: UnsafePointer<Float> { UnsafePointer(puzzleGradients.pointer) }
}
