// The ACT training loop (docs/SPEC.md §5 and §6): a carry per batch slot that persists across
// steps; halted slots are reset and take the example in their slot of the new batch; one
// inner step (HRM's 1-step gradient, TRM's last cycle); halting by q_halt > q_continue with
// exploration; the Q-continue target from one more no-gradient inner step; lm (stablemax) + 0.5 *
// (q_halt + q_continue) losses with the gradient divided by the global batch size; AdamATan2 on the
// dense parameters and sparse sign-SGD on the puzzle-embedding rows of the batch. With the model's
// noACTContinue (TRM, docs/SPEC.md §9) a slot halts on q_halt > 0 and there is no target step and
// no q_continue loss. An optional weight EMA (TrainerOptions.emaRate, WeightAverage.swift) follows
// every optimizer step.
// A size-bucketed dataset trains each bucket with its own sampler and carry (TrainingBucket.swift);
// the optimizers, schedule, step count and exploration stream are shared.
// No adapter between trainer and model: the step reads the model's outputs (logits, qLogits) and
// writes the loss gradients into its logitGradients / qLogitGradients in place, and every other
// per-step buffer is made once (ACTStepScratch): after warm-up a step allocates nothing
// (Tests/TrainingTests/StepAllocationTests.swift counts it).
import Distributed
import Foundation
import HRM
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
    public var explorationProbability = 0.1
    public var seed: UInt64 = 0
    /// Weight EMA rate mu (shadow = (1 - mu) * weights + mu * shadow after every optimizer step; the
    /// shadow is what is evaluated and exported); 0 = off. TRM's reference runs use 0.999.
    public var emaRate = 0.0
    public init() {}

    enum CodingKeys: String, CodingKey {
        case batchSize, learningRate, puzzleEmbeddingLearningRate, weightDecay, puzzleEmbeddingWeightDecay, beta1, beta2
        case warmupSteps, lrMinRatio, totalSteps, explorationProbability, seed, emaRate
    }

    /// Files from before the EMA have no emaRate (off).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        batchSize = try c.decode(Int.self, forKey: .batchSize)
        learningRate = try c.decode(Double.self, forKey: .learningRate)
        puzzleEmbeddingLearningRate = try c.decode(Double.self, forKey: .puzzleEmbeddingLearningRate)
        weightDecay = try c.decode(Double.self, forKey: .weightDecay)
        puzzleEmbeddingWeightDecay = try c.decode(Double.self, forKey: .puzzleEmbeddingWeightDecay)
        beta1 = try c.decode(Double.self, forKey: .beta1)
        beta2 = try c.decode(Double.self, forKey: .beta2)
        warmupSteps = try c.decode(Int.self, forKey: .warmupSteps)
        lrMinRatio = try c.decode(Double.self, forKey: .lrMinRatio)
        totalSteps = try c.decode(Int.self, forKey: .totalSteps)
        explorationProbability = try c.decode(Double.self, forKey: .explorationProbability)
        seed = try c.decode(UInt64.self, forKey: .seed)
        emaRate = try c.decodeIfPresent(Double.self, forKey: .emaRate) ?? 0
    }

    /// emaRate only when on, so a run without it keeps the configuration (and reuse key) it had before.
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(batchSize, forKey: .batchSize)
        try c.encode(learningRate, forKey: .learningRate)
        try c.encode(puzzleEmbeddingLearningRate, forKey: .puzzleEmbeddingLearningRate)
        try c.encode(weightDecay, forKey: .weightDecay)
        try c.encode(puzzleEmbeddingWeightDecay, forKey: .puzzleEmbeddingWeightDecay)
        try c.encode(beta1, forKey: .beta1)
        try c.encode(beta2, forKey: .beta2)
        try c.encode(warmupSteps, forKey: .warmupSteps)
        try c.encode(lrMinRatio, forKey: .lrMinRatio)
        try c.encode(totalSteps, forKey: .totalSteps)
        try c.encode(explorationProbability, forKey: .explorationProbability)
        try c.encode(seed, forKey: .seed)
        if emaRate != 0 { try c.encode(emaRate, forKey: .emaRate) }
    }
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

/// The trainer's per-step buffers, made once for the batch size and the longest bucket (like the
/// model's BackwardScratch): a training step writes into these and the model's own buffers and
/// allocates nothing. A class so that its buffers are freed once, on deinit.
final class ACTStepScratch {
    /// The sampled batch (example and puzzle indices), refilled in place by the sampler.
    var sampled: GroupSampler.Batch
    /// The sampled batch's tokens [batch, tokens per example] and identifiers [batch]: a halted slot
    /// takes its slot's example from here.
    let inputs: UnsafeMutableBufferPointer<Int32>
    let labels: UnsafeMutableBufferPointer<Int32>
    let identifiers: UnsafeMutableBufferPointer<Int32>
    /// Per slot: this step is the slot's last allowed one (halt_max_steps).
    let isLastStep: UnsafeMutableBufferPointer<Bool>
    /// The Q head of the Q-continue target step [batch, 2] (q_halt, q_continue) and the targets [batch].
    let targetQLogits: UnsafeMutableBufferPointer<Float>
    let targetQContinue: UnsafeMutableBufferPointer<Double>
    /// Per slot: labelled tokens, tokens whose argmax is the label, and 1 when all are (the q_halt target).
    let labelledTokens: UnsafeMutableBufferPointer<Int>
    let correctTokens: UnsafeMutableBufferPointer<Int>
    let sequenceCorrect: UnsafeMutableBufferPointer<Double>
    /// Sparse sign-SGD's per-identifier gradient sums [puzzle-embedding width].
    let puzzleRowSums: UnsafeMutableBufferPointer<Double>

    /// `batch` slots of this process, of `globalBatch` the sampler draws (data parallelism).
    init(batch: Int, globalBatch: Int, maxTokensPerExample: Int, puzzleEmbeddingWidth: Int, ignoreLabel: Int32) {
        func buffer<Element>(_ count: Int, _ value: Element) -> UnsafeMutableBufferPointer<Element> {
            let made = UnsafeMutableBufferPointer<Element>.allocate(capacity: max(1, count))
            made.initialize(repeating: value)
            return made
        }
        sampled = GroupSampler.Batch(examples: [], puzzles: [], epoch: 0)
        sampled.examples.reserveCapacity(globalBatch)
        sampled.puzzles.reserveCapacity(globalBatch)
        inputs = buffer(batch * maxTokensPerExample, 0)
        labels = buffer(batch * maxTokensPerExample, ignoreLabel)
        identifiers = buffer(batch, 0)
        isLastStep = buffer(batch, false)
        targetQLogits = buffer(batch * 2, 0)
        targetQContinue = buffer(batch, 0)
        labelledTokens = buffer(batch, 0)
        correctTokens = buffer(batch, 0)
        sequenceCorrect = buffer(batch, 0)
        puzzleRowSums = buffer(puzzleEmbeddingWidth, 0)
    }

    deinit {
        inputs.deallocate(); labels.deallocate(); identifiers.deallocate(); isLastStep.deallocate()
        targetQLogits.deallocate(); targetQContinue.deallocate()
        labelledTokens.deallocate(); correctTokens.deallocate(); sequenceCorrect.deallocate(); puzzleRowSums.deallocate()
    }
}

public final class ACTTrainer {
    public static var ignoreLabel: Int32 { -100 }

    public let model: ReasoningModel<Float>
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

    /// The canvas buckets (one for a dataset without buckets), each with its sampler and carries.
    let buckets: [TrainingBucket]
    /// This rank's slots (the whole batch in one process).
    let batch: Int, vocab: Int
    /// ACT's maximum steps per example: the model's halt_max_steps (one value, in the model config).
    let haltMaxSteps: Int
    /// The model's no_ACT_continue: halt on q_halt > 0, no Q-continue target or loss.
    let noACTContinue: Bool
    /// Whether the Q-continue target step and loss run (HRM with more than one ACT step).
    var trainsQContinue: Bool { haltMaxSteps > 1 && !noACTContinue }
    /// The most tokens per example over the buckets (scratch size).
    let maxSeqLen: Int
    let scratch: ACTStepScratch
    /// The weight EMA when options.emaRate > 0 (WeightAverage.swift).
    let weightAverage: WeightAverage?

    /// A trainer on one example source (a dataset without canvas buckets).
    public convenience init(model: ReasoningModel<Float>, data: ExampleSource, options: TrainerOptions) throws {
        try self.init(model: model, buckets: [data], options: options)
    }

    /// A trainer on one example source per canvas bucket; every batch comes from one bucket.
    /// Bucket 0 samples with `options.seed`, so one bucket trains exactly as a single source.
    public init(model: ReasoningModel<Float>, buckets sources: [ExampleSource], options: TrainerOptions, group: ProcessGroup = .single) throws {
        precondition(!sources.isEmpty, "ACTTrainer needs at least one example source")
        self.model = model
        self.options = options
        self.group = group
        let share = try Self.share(of: group, batch: options.batchSize)
        self.share = share
        batch = share.count
        vocab = model.vocabularySize
        haltMaxSteps = model.config.haltMaxSteps
        noACTContinue = model.config.noACTContinue
        buckets = try sources.enumerated().map { index, data in
            try TrainingBucket(model: model, data: data, batch: options.batchSize, slots: share.count,
                               seed: options.seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15, ignoreLabel: ACTTrainer.ignoreLabel)
        }
        maxSeqLen = buckets.map(\.seqLen).max() ?? 0
        adam = AdamATan2(parameterCount: model.denseParameterCount, beta1: Float(options.beta1), beta2: Float(options.beta2), weightDecay: Float(options.weightDecay))
        signSGD = SparseSignSGD(weightDecay: Float(options.puzzleEmbeddingWeightDecay))
        schedule = LearningRateSchedule(warmupSteps: options.warmupSteps, totalSteps: options.totalSteps, minRatio: options.lrMinRatio)
        rng = SplitMix64(seed: options.seed ^ 0xAC7_5EED)
        weightAverage = options.emaRate > 0 ? WeightAverage(rate: options.emaRate) : nil
        scratch = ACTStepScratch(batch: batch, globalBatch: share.global, maxTokensPerExample: maxSeqLen, puzzleEmbeddingWidth: model.puzzleEmbeddingWidth,
                                 ignoreLabel: ACTTrainer.ignoreLabel)
    }

    /// Number of canvas buckets.
    public var bucketCount: Int { buckets.count }

    /// One training step on the next batch (of the bucket furthest behind). Throws when the loss
    /// or a gradient is not finite (no parameter is updated then).
    @discardableResult
    public func trainStep() throws -> StepMetrics {
        let b = buckets[TrainingBucket.next(buckets)]
        return try runStep(b, epoch: sampleBatch(b))
    }

    /// One training step on an explicit batch of the first bucket (labels already use
    /// `ignoreLabel`), for tests against the reference's fixtures.
    @discardableResult
    public func trainStep(inputs: [Int32], labels: [Int32], identifiers: [Int32]) throws -> StepMetrics {
        let b = buckets[0]
        precondition(inputs.count == batch * b.seqLen && labels.count == batch * b.seqLen && identifiers.count == batch)
        for k in 0..<inputs.count { scratch.inputs[k] = inputs[k]; scratch.labels[k] = labels[k] }
        for k in 0..<batch { scratch.identifiers[k] = identifiers[k] }
        return try runStep(b, epoch: 0)
    }

    /// Draws bucket `b`'s next batch into the scratch batch; returns its epoch.
    func sampleBatch(_ b: TrainingBucket) -> Int {
        b.sampler.next(into: &scratch.sampled)
        b.draws += 1
        let seqLen = b.seqLen
        for slot in 0..<batch {  // this rank's share of the global batch (all of it in one process)
            let drawn = share.lower + slot
            b.data.copyExample(scratch.sampled.examples[drawn], inputs: scratch.inputs.baseAddress! + slot * seqLen,
                               labels: scratch.labels.baseAddress! + slot * seqLen, ignoreLabel: ACTTrainer.ignoreLabel)
            scratch.identifiers[slot] = b.data.identifier(ofPuzzle: scratch.sampled.puzzles[drawn])
        }
        return scratch.sampled.epoch
    }

    /// One ACT training step on bucket `b` with the sampled batch in the scratch (docs/SPEC.md §5-6).
    func runStep(_ b: TrainingBucket, epoch: Int) throws -> StepMetrics {
        startHaltedSlots(b)
        withCurrentExamples(b) { inputs, identifiers in
            model.innerStep(carry: b.carry, inputs: inputs, puzzleIdentifiers: identifiers, batch: batch, withGradient: true)
        }
        decideHalting(b)
        if trainsQContinue { computeQContinueTargets(b) }
        var metrics = StepMetrics()
        metrics.step = step + 1
        metrics.epoch = epoch
        metrics.batchSize = batch
        metrics.tokens = batch * b.seqLen
        computeLosses(b, into: &metrics)
        addHaltedSlotMetrics(b, to: &metrics)
        try reduceOverRanks(&metrics)  // global sums (DataParallel.swift)
        guard metrics.totalLoss.isFinite else { throw TrainingError.nonFinite(step: step + 1, what: "the loss") }
        try computeGradients()
        try applyOptimizers(b, metrics: &metrics)
        return metrics
    }

    /// Halted slots restart: their carry is reset to H_init / L_init and they take the sampled
    /// batch's example in their slot.
    func startHaltedSlots(_ b: TrainingBucket) {
        let seqLen = b.seqLen
        for slot in 0..<batch where b.halted[slot] {
            b.carry.reset(slot: slot, model: model)
            b.slotSteps[slot] = 0
            b.currentInputs.withUnsafeMutableBufferPointer {
                ($0.baseAddress! + slot * seqLen).update(from: scratch.inputs.baseAddress! + slot * seqLen, count: seqLen)
            }
            b.currentLabels.withUnsafeMutableBufferPointer {
                ($0.baseAddress! + slot * seqLen).update(from: scratch.labels.baseAddress! + slot * seqLen, count: seqLen)
            }
            b.currentIdentifiers[slot] = scratch.identifiers[slot]
        }
    }

    /// Runs `body` with the bucket's current inputs [batch, seqLen] and identifiers [batch].
    func withCurrentExamples(_ b: TrainingBucket, _ body: (UnsafePointer<Int32>, UnsafePointer<Int32>) -> Void) {
        b.currentInputs.withUnsafeBufferPointer { inputs in
            b.currentIdentifiers.withUnsafeBufferPointer { identifiers in body(inputs.baseAddress!, identifiers.baseAddress!) }
        }
    }

    /// Halting (training): max steps, q_halt > q_continue (q_halt > 0 with noACTContinue; the model's
    /// qLogits), exploration's minimum.
    func decideHalting(_ b: TrainingBucket) {
        let q = model.qLogits.pointer
        let maxSteps = Int32(haltMaxSteps)
        skipExplorationDraws(share.lower)  // other ranks' slots come first (DataParallel.swift)
        for slot in 0..<batch {
            b.slotSteps[slot] += 1
            let isLast = b.slotSteps[slot] >= maxSteps
            scratch.isLastStep[slot] = isLast
            var halt = isLast
            if haltMaxSteps > 1 {
                halt = halt || q[2 * slot] > (noACTContinue ? 0 : q[2 * slot + 1])
                let explore = rng.nextUnit() < options.explorationProbability
                let minHalt = Int32(2 + Int(rng.next() % UInt64(max(1, haltMaxSteps - 1))))
                if explore && b.slotSteps[slot] < minHalt { halt = false }
            }
            b.halted[slot] = halt
        }
        skipExplorationDraws(share.global - share.upper)
    }

    /// The Q-continue target: sigmoid of the Q head after one more no-gradient inner step on a copy of
    /// the new carry (q_halt on a slot's last step, else max(q_halt, q_continue)).
    func computeQContinueTargets(_ b: TrainingBucket) {
        b.probeCarry.copy(from: b.carry)
        withCurrentExamples(b) { inputs, identifiers in
            model.qHeadStep(carry: b.probeCarry, inputs: inputs, puzzleIdentifiers: identifiers, batch: batch,
                            qLogits: scratch.targetQLogits.baseAddress!)
        }
        let q = scratch.targetQLogits
        for slot in 0..<batch {
            let x = Double(scratch.isLastStep[slot] ? q[2 * slot] : max(q[2 * slot], q[2 * slot + 1]))
            scratch.targetQContinue[slot] = 1 / (1 + exp(-x))
        }
    }

    /// lm (stablemax) and q_halt / q_continue (BCE) losses of the model's outputs; their gradients,
    /// divided by the global batch size, go to the model's logitGradients and qLogitGradients.
    /// Under data parallelism these are this rank's parts; runStep sums them and checks they are finite.
    func computeLosses(_ b: TrainingBucket, into metrics: inout StepMetrics) {
        let seqLen = b.seqLen
        let scale = 1.0 / Double(share.global)
        let q = model.qLogits.pointer, dQ = model.qLogitGradients.pointer
        metrics.lmLoss = b.currentLabels.withUnsafeBufferPointer { labels in
            sequenceStablemaxLoss(model.logitGradients.pointer, model.logits.pointer, labels.baseAddress!, batch: batch, tokens: seqLen,
                                  vocab: vocab, ignoreLabel: ACTTrainer.ignoreLabel, gradientScale: scale, counts: scratch.labelledTokens.baseAddress!)
        }
        countCorrectTokens(b)
        metrics.qHaltLoss = binaryCrossEntropyWithLogits(dQ, q, stride: 2, scratch.sequenceCorrect.baseAddress!, count: batch,
                                                         gradientScale: 0.5 * scale)
        if trainsQContinue {
            metrics.qContinueLoss = binaryCrossEntropyWithLogits(dQ + 1, q + 1, stride: 2, scratch.targetQContinue.baseAddress!, count: batch,
                                                                 gradientScale: 0.5 * scale)
        } else {
            for slot in 0..<batch { dQ[2 * slot + 1] = 0 }
        }
    }

    /// Per slot, the labelled tokens whose argmax over the vocabulary is the label, and whether all are.
    func countCorrectTokens(_ b: TrainingBucket) {
        let seqLen = b.seqLen
        let logits = model.logits.pointer
        b.currentLabels.withUnsafeBufferPointer { labels in
            for slot in 0..<batch {
                var correct = 0
                for t in 0..<seqLen {
                    let label = labels[slot * seqLen + t]
                    if label == ACTTrainer.ignoreLabel { continue }
                    if argmax(logits + (slot * seqLen + t) * vocab, count: vocab) == Int(label) { correct += 1 }
                }
                scratch.correctTokens[slot] = correct
                scratch.sequenceCorrect[slot] = correct == scratch.labelledTokens[slot] ? 1 : 0
            }
        }
    }

    /// The reference's metrics: sums over the halted slots that have a labelled token.
    func addHaltedSlotMetrics(_ b: TrainingBucket, to metrics: inout StepMetrics) {
        let q = model.qLogits.pointer
        for slot in 0..<batch where b.halted[slot] && scratch.labelledTokens[slot] > 0 {
            metrics.count += 1
            metrics.accuracySum += Double(scratch.correctTokens[slot]) / Double(scratch.labelledTokens[slot])
            metrics.exactSum += Int(scratch.sequenceCorrect[slot])
            metrics.qHaltCorrectSum += ((q[2 * slot] >= 0) == (scratch.sequenceCorrect[slot] == 1)) ? 1 : 0
            metrics.stepsSum += Int(b.slotSteps[slot])
        }
    }

    /// The 1-step gradient of the recorded step from the loss gradients: overwrites the model's dense
    /// `gradients` and per-slot `puzzleGradients`. Throws when a dense gradient is not finite.
    func computeGradients() throws {
        model.zeroGradients()
        model.backward(dlogits: model.logitGradients.pointer, dq: model.qLogitGradients.pointer, batch: batch)
        try reduceDenseGradients()  // summed over the ranks (DataParallel.swift)
        // The step's gradients are complete here: model.gradients (dense) and model.puzzleGradients.
        let dense = model.gradients.pointer
        for i in 0..<model.denseParameterCount where !dense[i].isFinite {
            throw TrainingError.nonFinite(step: step + 1, what: "a parameter gradient (index \(i))")
        }
    }

    /// AdamATan2 on the dense parameters and sparse sign-SGD on the puzzle-embedding rows of the batch,
    /// at the schedule's rates for the new step.
    func applyOptimizers(_ b: TrainingBucket, metrics: inout StepMetrics) throws {
        step += 1
        let lr = schedule.rate(base: options.learningRate, step: step)
        let puzzleLR = schedule.rate(base: options.puzzleEmbeddingLearningRate, step: step)
        metrics.learningRate = lr
        weightAverage?.start(weights: model.parameters.values.pointer, count: model.denseParameterCount)
        adam.update(parameters: model.parameters.values.pointer, gradients: model.gradients.pointer, count: model.denseParameterCount,
                    learningRate: Float(lr))
        try withGlobalPuzzleRows(b.currentIdentifiers) { identifiers, rowGradients in  // every rank's rows (DataParallel.swift)
            signSGD.update(table: model.parameters.puzzleEmbedding.pointer, rows: model.puzzleIdentifierCount, width: model.puzzleEmbeddingWidth,
                           identifiers: identifiers, rowGradients: rowGradients, learningRate: Float(puzzleLR),
                           rowSums: scratch.puzzleRowSums.baseAddress!)
        }
        weightAverage?.update(weights: model.parameters.values.pointer, count: model.denseParameterCount)
    }

    /// Runs `body` with the EMA weights in the model (the training weights without an EMA or before
    /// its first update), then puts the training weights back: what checkpoints save and evaluation uses.
    public func withAveragedWeights<R>(_ body: () throws -> R) rethrows -> R {
        guard let average = weightAverage, average.hasStarted else { return try body() }
        average.swap(with: model.parameters.values.pointer, count: model.denseParameterCount)
        defer { average.swap(with: model.parameters.values.pointer, count: model.denseParameterCount) }
        return try body()
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
    /// With a weight EMA that has started: the training weights (the dense trainable prefix), since
    /// the checkpoint's model file holds the EMA's (WeightAverage.swift). nil otherwise.
    public var trainingWeights: [Float]? = nil
}

extension ACTTrainer {
    public func snapshot() -> TrainerSnapshot {
        TrainerSnapshot(step: step, adamStep: adam.step, firstMoment: adam.firstMoment, secondMoment: adam.secondMoment,
                        rngState: rng.state,
                        buckets: buckets.map { b in
                            BucketSnapshot(sampler: b.sampler.state, draws: b.draws, slotSteps: b.slotSteps, halted: b.halted,
                                           currentInputs: b.currentInputs, currentLabels: b.currentLabels,
                                           currentIdentifiers: b.currentIdentifiers, carry: b.carry.values)
                        },
                        trainingWeights: weightAverage.flatMap { $0.hasStarted ? Array(model.parameters.values.array.prefix(model.denseParameterCount)) : nil })
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
            b.carry.setValues(saved.carry)
        }
        // The model holds the checkpoint's model file: with an EMA under way, those are the EMA's
        // weights, and the training weights come from the state.
        if let average = weightAverage, let weights = s.trainingWeights {
            let count = model.denseParameterCount
            precondition(weights.count == count, "snapshot has \(weights.count) training weights, the model \(count)")
            average.restore(shadow: Array(model.parameters.values.array.prefix(count)))
            weights.withUnsafeBufferPointer { model.parameters.values.pointer.update(from: $0.baseAddress!, count: count) }
        }
    }
}
