// The ACT training loop (docs/SPEC.md §5 and §6): a carry per batch slot that persists across
// steps; halted slots are reset and take the example in their slot of the new batch; one
// inner step with the 1-step gradient; halting by q_halt > q_continue with exploration; the
// Q-continue target from one more no-gradient inner step; lm (stablemax) + 0.5 * (q_halt +
// q_continue) losses with the gradient divided by the global batch size; AdamATan2 on the
// dense parameters and sparse sign-SGD on the puzzle-embedding rows of the batch.
import Foundation
import Kernels

public struct TrainerOptions: Sendable, Equatable, Codable {
    public var batchSize = 32
    public var learningRate = 1e-4
    public var puzzleEmbeddingLearningRate = 1e-2
    public var weightDecay = 0.1
    public var puzzleEmbeddingWeightDecay = 0.1
    public var beta1 = 0.9
    public var beta2 = 0.95
    public var warmupSteps = 2000
    public var lrMinRatio = 1.0
    public var totalSteps = 1
    public var haltMaxSteps = 16
    public var explorationProbability = 0.1
    public var seed: UInt64 = 0
    public init() {}
}

/// Sums over the halted slots of one step (the reference's metrics), plus the losses.
public struct StepMetrics: Sendable, Equatable {
    public var step = 0
    public var epoch = 0
    public var learningRate = 0.0
    /// Halted slots with at least one labelled token.
    public var count = 0
    public var accuracySum = 0.0
    public var exactSum = 0
    public var qHaltCorrectSum = 0
    public var stepsSum = 0
    /// Loss sums over the whole batch (divide by the batch size to report).
    public var lmLoss = 0.0
    public var qHaltLoss = 0.0
    public var qContinueLoss = 0.0
    public var batchSize = 0
    public var tokens = 0

    public var totalLoss: Double { lmLoss + 0.5 * (qHaltLoss + qContinueLoss) }
}

public enum TrainingError: Error, CustomStringConvertible {
    case nonFinite(step: Int, what: String)
    /// `nonFinite` as a run reports it: with the checkpoint left to resume from, if any.
    case diverged(step: Int, what: String, lastCheckpoint: String?)
    public var description: String {
        switch self {
        case let .nonFinite(step, what): return "training diverged at step \(step): \(what) is NaN or infinite"
        case let .diverged(step, what, checkpoint?):
            return "training diverged at step \(step): \(what) is NaN or infinite; the last good checkpoint, \(checkpoint), is kept"
        case let .diverged(step, what, nil):
            return "training diverged at step \(step): \(what) is NaN or infinite; no checkpoint was saved before it"
        }
    }
}

public final class ACTTrainer<Model: ACTInnerModel> {
    public static var ignoreLabel: Int32 { -100 }

    public let model: Model
    public let data: ExampleSource
    public let options: TrainerOptions
    public private(set) var sampler: GroupSampler
    public private(set) var adam: AdamATan2
    public let signSGD: SparseSignSGD
    public let schedule: LearningRateSchedule
    public private(set) var step = 0
    /// Exploration draws (halting) use their own stream, saved with the state.
    public private(set) var rng: SplitMix64

    let batch: Int, seqLen: Int, vocab: Int
    let carry: Model.Carry
    let probeCarry: Model.Carry
    // Per slot: ACT steps taken, halted flag, the example held (inputs, labels, identifier).
    var slotSteps: [Int32]
    var halted: [Bool]
    var currentInputs: [Int32]
    var currentLabels: [Int32]
    var currentIdentifiers: [Int32]
    // Scratch (no allocation per step).
    var batchInputs: [Int32]
    var batchLabels: [Int32]
    var batchIdentifiers: [Int32]
    var logits: [Float]
    var dLogits: [Float]
    var probeLogits: [Float]
    var qHalt: [Float], qContinue: [Float], probeQHalt: [Float], probeQContinue: [Float]
    var dQHalt: [Float], dQContinue: [Float]

    public init(model: Model, data: ExampleSource, options: TrainerOptions) {
        precondition(data.sequenceLength == model.sequenceLength,
                     "dataset seq_len \(data.sequenceLength) does not match the model's \(model.sequenceLength)")
        self.model = model
        self.data = data
        self.options = options
        batch = options.batchSize
        seqLen = model.sequenceLength
        vocab = model.vocabularySize
        sampler = GroupSampler(puzzleIndices: data.puzzleOffsets, groupIndices: data.groupOffsets, batchSize: options.batchSize, seed: options.seed)
        adam = AdamATan2(parameterCount: model.denseParameterCount, beta1: Float(options.beta1), beta2: Float(options.beta2), weightDecay: Float(options.weightDecay))
        signSGD = SparseSignSGD(weightDecay: Float(options.puzzleEmbeddingWeightDecay))
        schedule = LearningRateSchedule(warmupSteps: options.warmupSteps, totalSteps: options.totalSteps, minRatio: options.lrMinRatio)
        rng = SplitMix64(seed: options.seed ^ 0xAC7_5EED)
        carry = model.makeCarry(batchSize: batch)
        probeCarry = model.makeCarry(batchSize: batch)
        slotSteps = [Int32](repeating: 0, count: batch)
        halted = [Bool](repeating: true, count: batch)  // every slot takes data on the first step
        currentInputs = [Int32](repeating: 0, count: batch * seqLen)
        currentLabels = [Int32](repeating: ACTTrainer.ignoreLabel, count: batch * seqLen)
        currentIdentifiers = [Int32](repeating: 0, count: batch)
        batchInputs = currentInputs
        batchLabels = currentLabels
        batchIdentifiers = currentIdentifiers
        logits = [Float](repeating: 0, count: batch * seqLen * vocab)
        dLogits = logits
        probeLogits = logits
        qHalt = [Float](repeating: 0, count: batch)
        qContinue = qHalt; probeQHalt = qHalt; probeQContinue = qHalt; dQHalt = qHalt; dQContinue = qHalt
    }

    /// Loads the next batch from the sampler into the batch buffers.
    func loadBatch() -> Int {
        let next = sampler.next()
        batchInputs.withUnsafeMutableBufferPointer { inputs in
            batchLabels.withUnsafeMutableBufferPointer { labels in
                for (slot, example) in next.examples.enumerated() {
                    data.copyExample(example, inputs: inputs.baseAddress! + slot * seqLen, labels: labels.baseAddress! + slot * seqLen,
                                     ignoreLabel: ACTTrainer.ignoreLabel)
                }
            }
        }
        for (slot, puzzle) in next.puzzles.enumerated() { batchIdentifiers[slot] = data.identifier(ofPuzzle: puzzle) }
        return next.epoch
    }

    /// One training step on the sampler's next batch. Throws when the loss or a gradient is
    /// not finite (no parameter is updated then).
    @discardableResult
    public func trainStep() throws -> StepMetrics {
        try runStep(epoch: loadBatch())
    }

    /// One training step on an explicit batch (labels already use `ignoreLabel`), for tests
    /// against the reference's fixtures.
    @discardableResult
    public func trainStep(inputs: [Int32], labels: [Int32], identifiers: [Int32]) throws -> StepMetrics {
        precondition(inputs.count == batch * seqLen && labels.count == batch * seqLen && identifiers.count == batch)
        batchInputs = inputs
        batchLabels = labels
        batchIdentifiers = identifiers
        return try runStep(epoch: 0)
    }

    func runStep(epoch: Int) throws -> StepMetrics {
        // Reset halted slots and give them the new batch's example in their slot.
        let resetSlots = (0..<batch).filter { halted[$0] }
        model.resetCarry(carry, slots: resetSlots)
        for slot in resetSlots {
            slotSteps[slot] = 0
            for t in 0..<seqLen {
                currentInputs[slot * seqLen + t] = batchInputs[slot * seqLen + t]
                currentLabels[slot * seqLen + t] = batchLabels[slot * seqLen + t]
            }
            currentIdentifiers[slot] = batchIdentifiers[slot]
        }

        // The inner step with the 1-step gradient recorded.
        currentInputs.withUnsafeBufferPointer { inputs in
            currentIdentifiers.withUnsafeBufferPointer { ids in
                model.innerStep(carry: carry, inputs: inputs.baseAddress!, puzzleIdentifiers: ids.baseAddress!, batchSize: batch,
                                logits: &logits, qHalt: &qHalt, qContinue: &qContinue, recordForBackward: true)
            }
        }

        // Halting (training): max steps, q_halt > q_continue, exploration's minimum.
        let maxSteps = Int32(options.haltMaxSteps)
        var isLast = [Bool](repeating: false, count: batch)
        for slot in 0..<batch {
            slotSteps[slot] += 1
            isLast[slot] = slotSteps[slot] >= maxSteps
            var h = isLast[slot]
            if options.haltMaxSteps > 1 {
                h = h || qHalt[slot] > qContinue[slot]
                let explore = rng.nextUnit() < options.explorationProbability
                let minHalt = Int32(2 + Int(rng.next() % UInt64(max(1, options.haltMaxSteps - 1))))
                if explore && slotSteps[slot] < minHalt { h = false }
            }
            halted[slot] = h
        }

        // Q-continue target from one more inner step on the new carry, without gradient.
        var targetQContinue = [Double](repeating: 0, count: batch)
        if options.haltMaxSteps > 1 {
            model.copyCarry(carry, to: probeCarry)
            currentInputs.withUnsafeBufferPointer { inputs in
                currentIdentifiers.withUnsafeBufferPointer { ids in
                    model.innerStep(carry: probeCarry, inputs: inputs.baseAddress!, puzzleIdentifiers: ids.baseAddress!, batchSize: batch,
                                    logits: &probeLogits, qHalt: &probeQHalt, qContinue: &probeQContinue, recordForBackward: false)
                }
            }
            for slot in 0..<batch {
                let x = Double(isLast[slot] ? probeQHalt[slot] : max(probeQHalt[slot], probeQContinue[slot]))
                targetQContinue[slot] = 1 / (1 + exp(-x))
            }
        }

        // Losses and their gradients, divided by the global batch size.
        let scale = 1.0 / Double(batch)
        var metrics = StepMetrics()
        metrics.step = step + 1
        metrics.epoch = epoch
        metrics.batchSize = batch
        metrics.tokens = batch * seqLen
        let (lmLoss, counts) = dLogits.withUnsafeMutableBufferPointer { d in
            logits.withUnsafeBufferPointer { l in
                currentLabels.withUnsafeBufferPointer { labels in
                    sequenceStablemaxLoss(d.baseAddress!, l.baseAddress!, labels.baseAddress!, batch: batch, tokens: seqLen, vocab: vocab,
                                          ignoreLabel: ACTTrainer.ignoreLabel, gradientScale: scale)
                }
            }
        }
        // Exactly-correct sequences (argmax over the vocabulary equals every labelled token).
        var seqCorrect = [Double](repeating: 0, count: batch)
        var tokenCorrect = [Int](repeating: 0, count: batch)
        for slot in 0..<batch {
            var correct = 0
            for t in 0..<seqLen {
                let label = currentLabels[slot * seqLen + t]
                if label == ACTTrainer.ignoreLabel { continue }
                let best = logits.withUnsafeBufferPointer { argmax($0.baseAddress! + (slot * seqLen + t) * vocab, count: vocab) }
                if best == Int(label) { correct += 1 }
            }
            tokenCorrect[slot] = correct
            seqCorrect[slot] = correct == counts[slot] ? 1 : 0
        }
        let qHaltLoss = qHalt.withUnsafeBufferPointer { q in
            dQHalt.withUnsafeMutableBufferPointer { d in
                binaryCrossEntropyWithLogits(d.baseAddress!, q.baseAddress!, stride: 1, seqCorrect, count: batch, gradientScale: 0.5 * scale)
            }
        }
        var qContinueLoss = 0.0
        if options.haltMaxSteps > 1 {
            qContinueLoss = qContinue.withUnsafeBufferPointer { q in
                dQContinue.withUnsafeMutableBufferPointer { d in
                    binaryCrossEntropyWithLogits(d.baseAddress!, q.baseAddress!, stride: 1, targetQContinue, count: batch, gradientScale: 0.5 * scale)
                }
            }
        } else {
            for slot in 0..<batch { dQContinue[slot] = 0 }
        }
        metrics.lmLoss = lmLoss
        metrics.qHaltLoss = qHaltLoss
        metrics.qContinueLoss = qContinueLoss
        guard metrics.totalLoss.isFinite else { throw TrainingError.nonFinite(step: step + 1, what: "the loss") }
        for slot in 0..<batch where halted[slot] && counts[slot] > 0 {
            metrics.count += 1
            metrics.accuracySum += Double(tokenCorrect[slot]) / Double(counts[slot])
            metrics.exactSum += Int(seqCorrect[slot])
            metrics.qHaltCorrectSum += ((qHalt[slot] >= 0) == (seqCorrect[slot] == 1)) ? 1 : 0
            metrics.stepsSum += Int(slotSteps[slot])
        }

        // Backward and the optimizers.
        dLogits.withUnsafeBufferPointer { d in
            dQHalt.withUnsafeBufferPointer { qh in
                dQContinue.withUnsafeBufferPointer { qc in
                    model.backward(dLogits: d.baseAddress!, dQHalt: qh.baseAddress!, dQContinue: qc.baseAddress!)
                }
            }
        }
        let dense = model.denseGradients
        for i in 0..<model.denseParameterCount where !dense[i].isFinite {
            throw TrainingError.nonFinite(step: step + 1, what: "a parameter gradient (index \(i))")
        }
        step += 1
        let lr = schedule.rate(base: options.learningRate, step: step)
        let puzzleLR = schedule.rate(base: options.puzzleEmbeddingLearningRate, step: step)
        metrics.learningRate = lr
        adam.update(parameters: model.denseParameters, gradients: model.denseGradients, count: model.denseParameterCount, learningRate: Float(lr))
        signSGD.update(table: model.puzzleEmbeddingTable, rows: model.puzzleIdentifierCount, width: model.puzzleEmbeddingWidth,
                       identifiers: currentIdentifiers, rowGradients: model.puzzleEmbeddingRowGradients, learningRate: Float(puzzleLR))
        return metrics
    }
}

/// Everything besides the model's parameters that exact resume needs.
public struct TrainerSnapshot: Sendable, Equatable {
    public var step: Int
    public var adamStep: Int
    public var firstMoment: [Float]
    public var secondMoment: [Float]
    public var sampler: GroupSampler.State
    public var rngState: UInt64
    public var slotSteps: [Int32]
    public var halted: [Bool]
    public var currentInputs: [Int32]
    public var currentLabels: [Int32]
    public var currentIdentifiers: [Int32]
    public var carry: [Float]
}

extension ACTTrainer {
    public func snapshot() -> TrainerSnapshot {
        TrainerSnapshot(step: step, adamStep: adam.step, firstMoment: adam.firstMoment, secondMoment: adam.secondMoment,
                        sampler: sampler.state, rngState: rng.state, slotSteps: slotSteps, halted: halted,
                        currentInputs: currentInputs, currentLabels: currentLabels, currentIdentifiers: currentIdentifiers,
                        carry: model.exportCarry(carry))
    }

    public func restore(_ s: TrainerSnapshot) {
        precondition(s.slotSteps.count == batch, "snapshot batch size \(s.slotSteps.count) differs from \(batch)")
        step = s.step
        adam = AdamATan2(step: s.adamStep, firstMoment: s.firstMoment, secondMoment: s.secondMoment,
                         beta1: adam.beta1, beta2: adam.beta2, weightDecay: adam.weightDecay)
        sampler.restore(s.sampler)
        rng = SplitMix64(seed: s.rngState)
        slotSteps = s.slotSteps
        halted = s.halted
        currentInputs = s.currentInputs
        currentLabels = s.currentLabels
        currentIdentifiers = s.currentIdentifiers
        model.importCarry(s.carry, into: carry)
    }
}
