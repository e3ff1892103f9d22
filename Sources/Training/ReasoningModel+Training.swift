// The model (HRM or TRM, Float) as the ACT trainer and the predictor use it, without an adapter: they call
// the model's inner step and read and write its own buffers in place (logits, qLogits,
// logitGradients, qLogitGradients, gradients, puzzleGradients; ReasoningModel.swift). This file adds
// the sizes they check, carries made for a canvas side (docs/DESIGN.md "Formats": a carry holds
// side x side tokens per slot, nil = the full sequence), and the carry's values for exact resume.
import HRM
import Kernels

extension ReasoningModel where T == Float {
    /// Grid tokens per example of the full sequence (seq_len: 900 for the 30x30 canvas).
    public var sequenceLength: Int { config.seqLen }
    public var vocabularySize: Int { config.vocabSize }
    /// Rows of the puzzle-embedding table (identifiers 0..N).
    public var puzzleIdentifierCount: Int { config.numPuzzleIdentifiers + 1 }
    /// Width of a puzzle-embedding row.
    public var puzzleEmbeddingWidth: Int { config.puzzleEmbeddingDim }
    /// Every trainable value except the puzzle embedding (the arena's trainable prefix, `gradients`).
    public var denseParameterCount: Int { parameters.layout.trainableCount }

    /// A carry of `batchSize` slots reset to H_init / L_init, for examples that are the side x side crop
    /// of the position canvas (nil: the full sequence); throws when the model cannot take that side.
    public func makeCarry(batchSize: Int, side: Int? = nil) throws -> HRMCarry<Float> {
        precondition(batchSize <= maxBatch, "batch \(batchSize) exceeds the model's maxBatch \(maxBatch)")
        if let side { try HRMCarry<Float>.validateSide(side, config: config) }
        let carry = HRMCarry<Float>(config: config, batch: batchSize, side: side)
        carry.resetAll(model: self)
        return carry
    }
}

extension ReasoningCarry where T == Float {
    /// The carry's values, zH then zL, for exact resume.
    public var values: [Float] { zH.array + zL.array }

    /// Restores values made by `values` (the count is checked by the checkpoint reader first).
    public func setValues(_ values: [Float]) {
        precondition(values.count == zH.count + zL.count, "carry snapshot has \(values.count) values, expected \(zH.count + zL.count)")
        values.withUnsafeBufferPointer { v in
            zH.pointer.update(from: v.baseAddress!, count: zH.count)
            zL.pointer.update(from: v.baseAddress! + zH.count, count: zL.count)
        }
    }
}
