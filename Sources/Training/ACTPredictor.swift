// Inference with ACT (docs/SPEC.md §5 "Evaluation always runs halt_max_steps steps for every
// slot"): a fresh carry per batch, halt_max_steps inner steps, then the argmax tokens and
// q_halt of the last step for every example. Examples of a canvas bucket run on a carry of
// that bucket's side (one carry per side, made on first use).

public struct ExamplePrediction: Sendable, Equatable {
    public var example: Int
    /// Argmax token per grid position (the source's sequenceLength values).
    public var tokens: [UInt8]
    public var qHalt: Float
}

public final class ACTPredictor<Model: ACTInnerModel> {
    public let model: Model
    public let batchSize: Int
    public let haltMaxSteps: Int
    var carries: [Int: Model.Carry] = [:]
    var inputs: [Int32], identifiers: [Int32], logits: [Float], qHalt: [Float], qContinue: [Float]

    public init(model: Model, batchSize: Int, haltMaxSteps: Int) {
        self.model = model
        self.batchSize = batchSize
        self.haltMaxSteps = haltMaxSteps
        inputs = [Int32](repeating: 0, count: batchSize * model.sequenceLength)
        identifiers = [Int32](repeating: 0, count: batchSize)
        logits = [Float](repeating: 0, count: batchSize * model.sequenceLength * model.vocabularySize)
        qHalt = [Float](repeating: 0, count: batchSize)
        qContinue = qHalt
    }

    /// Predicts examples `examples` (indices into `data`), in batches; unused slots of the last
    /// batch hold blank examples (PAD inputs, identifier 0) and are dropped. Throws when the
    /// model cannot take the source's canvas side.
    public func predict(_ examples: [Int], from data: ExampleSource, identifierOf: (Int) -> Int32,
                        progress: ((Int) -> Void)? = nil) throws -> [ExamplePrediction] {
        let carry: Model.Carry
        if let existing = carries[data.canvasSide ?? 0] {
            carry = existing
        } else {
            carry = try model.makeCarry(batchSize: batchSize, side: data.canvasSide)
            carries[data.canvasSide ?? 0] = carry
        }
        let seqLen = model.tokensPerExample(of: carry), vocab = model.vocabularySize
        precondition(seqLen == data.sequenceLength && seqLen <= model.sequenceLength,
                     "predict: the source has \(data.sequenceLength) tokens per example, the carry \(seqLen)")
        var results = [ExamplePrediction]()
        results.reserveCapacity(examples.count)
        var labels = [Int32](repeating: 0, count: seqLen)
        var start = 0
        while start < examples.count {
            let chunk = Array(examples[start..<min(examples.count, start + batchSize)])
            for slot in 0..<batchSize {
                if slot < chunk.count {
                    inputs.withUnsafeMutableBufferPointer { i in
                        labels.withUnsafeMutableBufferPointer { l in
                            data.copyExample(chunk[slot], inputs: i.baseAddress! + slot * seqLen, labels: l.baseAddress!,
                                             ignoreLabel: ACTTrainer<Model>.ignoreLabel)
                        }
                    }
                    identifiers[slot] = identifierOf(chunk[slot])
                } else {
                    for t in 0..<seqLen { inputs[slot * seqLen + t] = 0 }
                    identifiers[slot] = 0
                }
            }
            model.resetCarry(carry, slots: Array(0..<batchSize))
            for _ in 0..<haltMaxSteps {
                inputs.withUnsafeBufferPointer { i in
                    identifiers.withUnsafeBufferPointer { ids in
                        model.innerStep(carry: carry, inputs: i.baseAddress!, puzzleIdentifiers: ids.baseAddress!, batchSize: batchSize,
                                        logits: &logits, qHalt: &qHalt, qContinue: &qContinue, recordForBackward: false)
                    }
                }
            }
            for (slot, example) in chunk.enumerated() {
                var tokens = [UInt8](repeating: 0, count: seqLen)
                logits.withUnsafeBufferPointer { l in
                    for t in 0..<seqLen { tokens[t] = UInt8(argmax(l.baseAddress! + (slot * seqLen + t) * vocab, count: vocab)) }
                }
                results.append(ExamplePrediction(example: example, tokens: tokens, qHalt: qHalt[slot]))
            }
            start += chunk.count
            progress?(start)
        }
        return results
    }
}

/// Index of the largest of `count` values (the first one on ties), the predicted token.
@inline(__always)
func argmax(_ values: UnsafePointer<Float>, count: Int) -> Int {
    var best = 0
    for j in 1..<count where values[j] > values[best] { best = j }
    return best
}
