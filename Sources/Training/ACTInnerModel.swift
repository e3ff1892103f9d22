// What the ACT trainer and the predictor need from the model (docs/SPEC.md §4's inner step):
// a carry per batch slot, one inner step (optionally recording the 1-step-gradient
// activations), its backward, and flat views of the parameters for the optimizers.
// The HRM module's model conforms in HRMModel+ACTInnerModel.swift.
// A carry has a geometry: the full sequence (side nil), or a side x side crop of the position
// canvas (size-bucketed datasets, docs/DESIGN.md "Formats"); inputs, labels and logits of a step
// hold tokensPerExample(of:) tokens per slot.

public protocol ACTInnerModel: AnyObject {
    associatedtype Carry

    /// Grid tokens per example (seq_len: 900 for the 30x30 canvas).
    var sequenceLength: Int { get }
    var vocabularySize: Int { get }
    /// Rows of the puzzle-embedding table (identifiers 0..N).
    var puzzleIdentifierCount: Int { get }

    func makeCarry(batchSize: Int) -> Carry
    /// A carry for examples that are the side x side crop of the position canvas (nil: the full
    /// sequence, as makeCarry(batchSize:)); throws when the model cannot take that side.
    func makeCarry(batchSize: Int, side: Int?) throws -> Carry
    /// Tokens per example of steps on this carry (sequenceLength, or side * side).
    func tokensPerExample(of carry: Carry) -> Int
    func copyCarry(_ source: Carry, to destination: Carry)
    /// Resets the given slots to H_init / L_init.
    func resetCarry(_ carry: Carry, slots: [Int])
    /// The carry's values (zH then zL), for exact resume.
    func exportCarry(_ carry: Carry) -> [Float]
    func importCarry(_ values: [Float], into carry: Carry)

    /// One inner step on `carry` (updated in place to the new, detached carry). Inputs are
    /// [batch, tokensPerExample(of: carry)]; writes logits [batch, tokensPerExample(of: carry), vocab] and the two q logits [batch]. With
    /// `recordForBackward` the gradient step's activations are kept for `backward`; a later
    /// call with `recordForBackward == false` must leave them intact.
    func innerStep(carry: Carry, inputs: UnsafePointer<Int32>, puzzleIdentifiers: UnsafePointer<Int32>, batchSize: Int,
                   logits: UnsafeMutablePointer<Float>, qHalt: UnsafeMutablePointer<Float>, qContinue: UnsafeMutablePointer<Float>,
                   recordForBackward: Bool)

    /// Gradients of the recorded step from dL/dlogits, dL/dq_halt, dL/dq_continue: overwrites
    /// `denseGradients` and `puzzleEmbeddingRowGradients`.
    func backward(dLogits: UnsafePointer<Float>, dQHalt: UnsafePointer<Float>, dQContinue: UnsafePointer<Float>)

    /// Every trainable tensor except the puzzle embedding, contiguous, and its gradient.
    var denseParameters: UnsafeMutablePointer<Float> { get }
    var denseGradients: UnsafeMutablePointer<Float> { get }
    var denseParameterCount: Int { get }

    /// The puzzle-embedding table [puzzleIdentifierCount, puzzleEmbeddingWidth] and, after
    /// `backward`, one gradient row per batch slot [batch, puzzleEmbeddingWidth].
    var puzzleEmbeddingTable: UnsafeMutablePointer<Float> { get }
    var puzzleEmbeddingWidth: Int { get }
    var puzzleEmbeddingRowGradients: UnsafePointer<Float> { get }
}
