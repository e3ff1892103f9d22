// The ACT training loop (docs/SPEC.md §5 and §6): a carry per batch slot that persists across
// steps; halted slots are reset and take the example in their slot of the new batch; one
// inner step with the 1-step gradient; halting by q_halt > q_continue with exploration; the
// Q-continue target from one more no-gradient inner step; lm (stablemax) + 0.5 * (q_halt +
// q_continue) losses with the gradient divided by the global batch size; AdamATan2 on the
// dense parameters and sparse sign-SGD on the puzzle-embedding rows of the batch.
// A size-bucketed dataset trains each bucket with its own sampler and carry (TrainingBucket.swift);
// the optimizers, schedule, step count and exploration stream are shared.
import Distributed
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
    public let options: TrainerOptions
    public private(set) var adam: AdamATan2
    public let signSGD: SparseSignSGD
    public let schedule: LearningRateSchedule
    public private(set) var step = 0
    /// Exploration draws (halting) use their own stream, saved with the state.
    public internal(set) var rng: SplitMix64
    /// Data parallelism (DataParallel.swift): the ranks, and this rank's slots of the global batch.
    public let group: ProcessGroup
    public let share: SlotShare

    /// The canvas buckets (one for a dataset without buckets), each with its sampler and carry.
    let buckets: [TrainingBucket<Model>]
    /// This rank's slots (the whole batch in one process).
    let batch: Int, vocab: Int
    /// The most tokens per example over the buckets (scratch size).
    let maxSeqLen: Int
    // Scratch (no allocation per step), sized for the longest bucket.
    var batchInputs: [Int32]
    var batchLabels: [Int32]
    var batchIdentifiers: [Int32]
    var logits: [Float]
    var dLogits: [Float]
    var probeLogits: [Float]
    var qHalt: [Float], qContinue: [Float], probeQHalt: [Float], probeQContinue: [Float]
    var dQHalt: [Float], dQContinue: [Float]

    /// A trainer on one example source (a dataset without canvas buckets).
    public convenience init(model: Model, data: ExampleSource, options: TrainerOptions) throws {
        try self.init(model: model, buckets: [data], options: options)
    }

    /// A trainer on one example source per canvas bucket; every batch comes from one bucket.
    /// Bucket 0 samples with `options.seed`, so one bucket trains exactly as a single source.
    public init(model: Model, buckets sources: [ExampleSource], options: TrainerOptions, group: ProcessGroup = .single) throws {
        precondition(!sources.isEmpty, "ACTTrainer needs at least one example source")
        self.model = model
        self.options = options
        self.group = group
        let share = try Self.share(of: group, batch: options.batchSize)
        self.share = share
        batch = share.count
        vocab = model.vocabularySize
        buckets = try sources.enumerated().map { index, data in
            try TrainingBucket(model: model, data: data, batch: options.batchSize, slots: share.count,
                               seed: options.seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15, ignoreLabel: ACTTrainer.ignoreLabel)
        }
        maxSeqLen = buckets.map(\.seqLen).max() ?? 0
        adam = AdamATan2(parameterCount: model.denseParameterCount, beta1: Float(options.beta1), beta2: Float(options.beta2), weightDecay: Float(options.weightDecay))
        signSGD = SparseSignSGD(weightDecay: Float(options.puzzleEmbeddingWeightDecay))
        schedule = LearningRateSchedule(warmupSteps: options.warmupSteps, totalSteps: options.totalSteps, minRatio: options.lrMinRatio)
        rng = SplitMix64(seed: options.seed ^ 0xAC7_5EED)
        batchInputs = [Int32](repeating: 0, count: batch * maxSeqLen)
        batchLabels = [Int32](repeating: ACTTrainer.ignoreLabel, count: batch * maxSeqLen)
        batchIdentifiers = [Int32](repeating: 0, count: batch)
        logits = [Float](repeating: 0, count: batch * maxSeqLen * vocab)
        dLogits = logits
        probeLogits = logits
        qHalt = [Float](repeating: 0, count: batch)
        qContinue = qHalt; probeQHalt = qHalt; probeQContinue = qHalt; dQHalt = qHalt; dQContinue = qHalt
    }

    /// Number of canvas buckets.
    public var bucketCount: Int { buckets.count }

    /// Loads the next batch of bucket `b`'s sampler into the batch buffers.
    func loadBatch(_ b: TrainingBucket<Model>) -> Int {
        let next = b.sampler.next()
        b.draws += 1
        let seqLen = b.seqLen
        batchInputs.withUnsafeMutableBufferPointer { inputs in
            batchLabels.withUnsafeMutableBufferPointer { labels in
                for (slot, example) in next.examples[share.range].enumerated() {
                    b.data.copyExample(example, inputs: inputs.baseAddress! + slot * seqLen, labels: labels.baseAddress! + slot * seqLen,
                                       ignoreLabel: ACTTrainer.ignoreLabel)
                }
            }
        }
        for (slot, puzzle) in next.puzzles[share.range].enumerated() { batchIdentifiers[slot] = b.data.identifier(ofPuzzle: puzzle) }
        return next.epoch
    }

    /// One training step on the next batch (of the bucket furthest behind). Throws when the loss
    /// or a gradient is not finite (no parameter is updated then).
    @discardableResult
    public func trainStep() throws -> StepMetrics {
        let b = buckets[TrainingBucket.next(buckets)]
        return try runStep(b, epoch: loadBatch(b))
    }

    /// One training step on an explicit batch of the first bucket (labels already use
    /// `ignoreLabel`), for tests against the reference's fixtures.
    @discardableResult
    public func trainStep(inputs: [Int32], labels: [Int32], identifiers: [Int32]) throws -> StepMetrics {
        let b = buckets[0]
        precondition(inputs.count == batch * b.seqLen && labels.count == batch * b.seqLen && identifiers.count == batch)
        for k in 0..<inputs.count { batchInputs[k] = inputs[k]; batchLabels[k] = labels[k] }
        for k in 0..<batch { batchIdentifiers[k] = identifiers[k] }
        return try runStep(b, epoch: 0)
    }

    func runStep(_ b: TrainingBucket<Model>, epoch: Int) throws -> StepMetrics {
        let seqLen = b.seqLen
        // Reset halted slots and give them the new batch's example in their slot.
        let resetSlots = (0..<batch).filter { b.halted[$0] }
        model.resetCarry(b.carry, slots: resetSlots)
        for slot in resetSlots {
            b.slotSteps[slot] = 0
            for t in 0..<seqLen {
                b.currentInputs[slot * seqLen + t] = batchInputs[slot * seqLen + t]
                b.currentLabels[slot * seqLen + t] = batchLabels[slot * seqLen + t]
            }
            b.currentIdentifiers[slot] = batchIdentifiers[slot]
        }

        // The inner step with the 1-step gradient recorded.
        b.currentInputs.withUnsafeBufferPointer { inputs in
            b.currentIdentifiers.withUnsafeBufferPointer { ids in
                model.innerStep(carry: b.carry, inputs: inputs.baseAddress!, puzzleIdentifiers: ids.baseAddress!, batchSize: batch,
                                logits: &logits, qHalt: &qHalt, qContinue: &qContinue, recordForBackward: true)
            }
        }

        // Halting (training): max steps, q_halt > q_continue, exploration's minimum.
        let maxSteps = Int32(options.haltMaxSteps)
        var isLast = [Bool](repeating: false, count: batch)
        skipExplorationDraws(share.lower)  // other ranks' slots (DataParallel.swift)
        for slot in 0..<batch {
            b.slotSteps[slot] += 1
            isLast[slot] = b.slotSteps[slot] >= maxSteps
            var h = isLast[slot]
            if options.haltMaxSteps > 1 {
                h = h || qHalt[slot] > qContinue[slot]
                let explore = rng.nextUnit() < options.explorationProbability
                let minHalt = Int32(2 + Int(rng.next() % UInt64(max(1, options.haltMaxSteps - 1))))
                if explore && b.slotSteps[slot] < minHalt { h = false }
            }
            b.halted[slot] = h
        }
        skipExplorationDraws(share.global - share.upper)

        // Q-continue target from one more inner step on the new carry, without gradient.
        var targetQContinue = [Double](repeating: 0, count: batch)
        if options.haltMaxSteps > 1 {
            model.copyCarry(b.carry, to: b.probeCarry)
            b.currentInputs.withUnsafeBufferPointer { inputs in
                b.currentIdentifiers.withUnsafeBufferPointer { ids in
                    model.innerStep(carry: b.probeCarry, inputs: inputs.baseAddress!, puzzleIdentifiers: ids.baseAddress!, batchSize: batch,
                                    logits: &probeLogits, qHalt: &probeQHalt, qContinue: &probeQContinue, recordForBackward: false)
                }
            }
            for slot in 0..<batch {
                let x = Double(isLast[slot] ? probeQHalt[slot] : max(probeQHalt[slot], probeQContinue[slot]))
                targetQContinue[slot] = 1 / (1 + exp(-x))
            }
        }

        // Losses and their gradients, divided by the global batch size.
        let scale = 1.0 / Double(share.global)
        var metrics = StepMetrics()
        metrics.step = step + 1
        metrics.epoch = epoch
        metrics.batchSize = batch
        metrics.tokens = batch * seqLen
        let (lmLoss, counts) = dLogits.withUnsafeMutableBufferPointer { d in
            logits.withUnsafeBufferPointer { l in
                b.currentLabels.withUnsafeBufferPointer { labels in
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
                let label = b.currentLabels[slot * seqLen + t]
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
        for slot in 0..<batch where b.halted[slot] && counts[slot] > 0 {
            metrics.count += 1
            metrics.accuracySum += Double(tokenCorrect[slot]) / Double(counts[slot])
            metrics.exactSum += Int(seqCorrect[slot])
            metrics.qHaltCorrectSum += ((qHalt[slot] >= 0) == (seqCorrect[slot] == 1)) ? 1 : 0
            metrics.stepsSum += Int(b.slotSteps[slot])
        }
        try reduceOverRanks(&metrics)  // global sums (DataParallel.swift)
        guard metrics.totalLoss.isFinite else { throw TrainingError.nonFinite(step: step + 1, what: "the loss") }

        // Backward and the optimizers.
        dLogits.withUnsafeBufferPointer { d in
            dQHalt.withUnsafeBufferPointer { qh in
                dQContinue.withUnsafeBufferPointer { qc in
                    model.backward(dLogits: d.baseAddress!, dQHalt: qh.baseAddress!, dQContinue: qc.baseAddress!)
                }
            }
        }
        try reduceDenseGradients()  // summed over the ranks (DataParallel.swift)
        let dense = model.denseGradients
        for i in 0..<model.denseParameterCount where !dense[i].isFinite {
            throw TrainingError.nonFinite(step: step + 1, what: "a parameter gradient (index \(i))")
        }
        step += 1
        let lr = schedule.rate(base: options.learningRate, step: step)
        let puzzleLR = schedule.rate(base: options.puzzleEmbeddingLearningRate, step: step)
        metrics.learningRate = lr
        adam.update(parameters: model.denseParameters, gradients: model.denseGradients, count: model.denseParameterCount, learningRate: Float(lr))
        try withGlobalPuzzleRows(b.currentIdentifiers) { identifiers, rowGradients in  // every rank's rows (DataParallel.swift)
            signSGD.update(table: model.puzzleEmbeddingTable, rows: model.puzzleIdentifierCount, width: model.puzzleEmbeddingWidth,
                           identifiers: identifiers, rowGradients: rowGradients, learningRate: Float(puzzleLR))
        }
        return metrics
    }
}

/// One bucket's part of the trainer state: its sampler, draws, ACT slots and carry.
public struct BucketSnapshot: Sendable, Equatable {
    public var sampler: GroupSampler.State
    public var draws: Int
    public var slotSteps: [Int32]
    public var halted: [Bool]
    public var currentInputs: [Int32]
    public var currentLabels: [Int32]
    public var currentIdentifiers: [Int32]
    public var carry: [Float]
}

/// Everything besides the model's parameters that exact resume needs.
public struct TrainerSnapshot: Sendable, Equatable {
    public var step: Int
    public var adamStep: Int
    public var firstMoment: [Float]
    public var secondMoment: [Float]
    public var rngState: UInt64
    /// One per canvas bucket, in the dataset's bucket order.
    public var buckets: [BucketSnapshot]
}

extension ACTTrainer {
    public func snapshot() -> TrainerSnapshot {
        TrainerSnapshot(step: step, adamStep: adam.step, firstMoment: adam.firstMoment, secondMoment: adam.secondMoment,
                        rngState: rng.state,
                        buckets: buckets.map { b in
                            BucketSnapshot(sampler: b.sampler.state, draws: b.draws, slotSteps: b.slotSteps, halted: b.halted,
                                           currentInputs: b.currentInputs, currentLabels: b.currentLabels,
                                           currentIdentifiers: b.currentIdentifiers, carry: model.exportCarry(b.carry))
                        })
    }

    /// Restores a snapshot already checked against this trainer (CheckpointStore.check).
    public func restore(_ s: TrainerSnapshot) {
        precondition(s.buckets.count == buckets.count, "snapshot has \(s.buckets.count) buckets, the trainer \(buckets.count)")
        step = s.step
        adam = AdamATan2(step: s.adamStep, firstMoment: s.firstMoment, secondMoment: s.secondMoment,
                         beta1: adam.beta1, beta2: adam.beta2, weightDecay: adam.weightDecay)
        rng = SplitMix64(seed: s.rngState)
        for (b, saved) in zip(buckets, s.buckets) {
            precondition(saved.slotSteps.count == batch, "snapshot batch size \(saved.slotSteps.count) differs from \(batch)")
            b.sampler.restore(saved.sampler)
            b.draws = saved.draws
            b.slotSteps = saved.slotSteps
            b.halted = saved.halted
            b.currentInputs = saved.currentInputs
            b.currentLabels = saved.currentLabels
            b.currentIdentifiers = saved.currentIdentifiers
            model.importCarry(saved.carry, into: b.carry)
        }
    }
}
