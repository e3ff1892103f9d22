// Inference with ACT (docs/SPEC.md §5 "Evaluation always runs halt_max_steps steps for every
// slot"): a fresh carry per batch, halt_max_steps inner steps, then the argmax tokens and
// q_halt of the last step for every example. Examples of a canvas bucket run on a carry of
// that bucket's side (one carry per side, made on first use). It reads the model's logits and
// qLogits in place; a batch allocates nothing (Tests/TrainingTests/StepAllocationTests.swift).
import HRM
import Kernels

public struct ExamplePrediction: Sendable, Equatable {
    public var example: Int
    /// Argmax token per grid position (the source's sequenceLength values).
    public var tokens: [UInt8]
    public var qHalt: Float
}

public final class ACTPredictor {
    public let model: ReasoningModel<Float>
    public let batchSize: Int
    public let haltMaxSteps: Int
    /// One carry per canvas side (key 0: the full sequence), made on first use.
    var carries: [Int: HRMCarry<Float>] = [:]
    /// The batch's inputs [batchSize, tokens] and identifiers [batchSize]; the labels copyExample
    /// writes (one example's, unused); the argmax token per slot and position of the last batch.
    var inputs: [Int32], identifiers: [Int32], unusedLabels: [Int32], tokens: [UInt8]

    public init(model: ReasoningModel<Float>, batchSize: Int, haltMaxSteps: Int) {
        self.model = model
        self.batchSize = batchSize
        self.haltMaxSteps = haltMaxSteps
        inputs = [Int32](repeating: 0, count: batchSize * model.sequenceLength)
        identifiers = [Int32](repeating: 0, count: batchSize)
        unusedLabels = [Int32](repeating: 0, count: model.sequenceLength)
        tokens = [UInt8](repeating: 0, count: batchSize * model.sequenceLength)
    }

    /// Predicts examples `examples` (indices into `data`), in batches; unused slots of the last
    /// batch hold blank examples (PAD inputs, identifier 0) and are dropped. Throws when the
    /// model cannot take the source's canvas side.
    public func predict(_ examples: [Int], from data: ExampleSource, identifierOf: (Int) -> Int32,
                        progress: ((Int) -> Void)? = nil) throws -> [ExamplePrediction] {
        let carry = try self.carry(for: data)
        let seqLen = carry.tokensPerExample
        var results = [ExamplePrediction]()
        results.reserveCapacity(examples.count)
        var start = 0
        while start < examples.count {
            let chunk = examples[start..<min(examples.count, start + batchSize)]
            predictBatch(chunk, from: data, carry: carry, identifierOf: identifierOf)
            for (slot, example) in chunk.enumerated() {
                results.append(ExamplePrediction(example: example, tokens: Array(tokens[(slot * seqLen)..<((slot + 1) * seqLen)]),
                                                 qHalt: model.qLogits[2 * slot]))
            }
            start += chunk.count
            progress?(start)
        }
        return results
    }

    /// The carry for the source's canvas side (checked against the model; made on first use).
    func carry(for data: ExampleSource) throws -> HRMCarry<Float> {
        let carry: HRMCarry<Float>
        if let existing = carries[data.canvasSide ?? 0] {
            carry = existing
        } else {
            carry = try model.makeCarry(batchSize: batchSize, side: data.canvasSide)
            carries[data.canvasSide ?? 0] = carry
        }
        precondition(carry.tokensPerExample == data.sequenceLength && carry.tokensPerExample <= model.sequenceLength,
                     "predict: the source has \(data.sequenceLength) tokens per example, the carry \(carry.tokensPerExample)")
        return carry
    }

    /// One batch (at most batchSize examples; the other slots hold blank examples): a fresh carry,
    /// haltMaxSteps inner steps, then the argmax token of every example's positions into `tokens`;
    /// q_halt of the last step stays in the model's qLogits. Allocates nothing.
    func predictBatch(_ chunk: ArraySlice<Int>, from data: ExampleSource, carry: HRMCarry<Float>, identifierOf: (Int) -> Int32) {
        let seqLen = carry.tokensPerExample, vocab = model.vocabularySize
        for slot in 0..<batchSize {
            if slot < chunk.count {
                let example = chunk[chunk.startIndex + slot]
                inputs.withUnsafeMutableBufferPointer { i in
                    unusedLabels.withUnsafeMutableBufferPointer { l in
                        data.copyExample(example, inputs: i.baseAddress! + slot * seqLen, labels: l.baseAddress!, ignoreLabel: ACTTrainer.ignoreLabel)
                    }
                }
                identifiers[slot] = identifierOf(example)
            } else {
                for t in 0..<seqLen { inputs[slot * seqLen + t] = 0 }
                identifiers[slot] = 0
            }
        }
        carry.resetAll(model: model)
        inputs.withUnsafeBufferPointer { i in
            identifiers.withUnsafeBufferPointer { ids in
                for _ in 0..<haltMaxSteps {
                    model.innerStep(carry: carry, inputs: i.baseAddress!, puzzleIdentifiers: ids.baseAddress!, batch: batchSize, withGradient: false)
                }
            }
        }
        let logits = model.logits.pointer
        for slot in 0..<chunk.count {
            for t in 0..<seqLen { tokens[slot * seqLen + t] = UInt8(argmax(logits + (slot * seqLen + t) * vocab, count: vocab)) }
        }
    }
}

/// Index of the largest of `count` values (the first one on ties), the predicted token.
@inline(__always)
func argmax(_ values: UnsafePointer<Float>, count: Int) -> Int {
    var best = 0
    for j in 1..<count where values[j] > values[best] { best = j }
    return best
}
