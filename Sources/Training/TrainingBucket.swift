// One canvas bucket of the training data as the ACT trainer runs it (docs/DESIGN.md "Formats",
// size-bucketed canvases): its examples, its own group sampler, and its own ACT carry and slot
// state, so every batch holds examples of one bucket only and a slot's example keeps its
// geometry across ACT steps. A dataset without buckets is one bucket: the trainer then runs
// exactly the reference's loop (docs/SPEC.md §5-6).
//
// Steps go to the bucket that is furthest behind in epochs: bucket b's progress after d batches
// is d / batchesPerEpoch(b), so over a run every bucket's examples are drawn about as often as
// in a single pass over the whole dataset, and the choice depends only on the saved draw counts.
import HRM

final class TrainingBucket {
    let data: ExampleSource
    /// Tokens per example (the bucket's side squared, or the full sequence).
    let seqLen: Int
    var sampler: GroupSampler
    /// The ACT carry of the bucket's slots (side x side tokens per slot, or the full sequence), and a
    /// second one the Q-continue target step runs on.
    let carry: HRMCarry<Float>
    let probeCarry: HRMCarry<Float>
    /// Batches drawn from this bucket so far.
    var draws = 0
    /// Expected full batches in one epoch of this bucket (sum over groups of the mean puzzle size,
    /// divided by the batch size).
    let batchesPerEpoch: Double
    // Per slot: ACT steps taken, halted flag, the example held (inputs, labels, identifier).
    var slotSteps: [Int32]
    var halted: [Bool]
    var currentInputs: [Int32]
    var currentLabels: [Int32]
    var currentIdentifiers: [Int32]

    /// `batch` is the global batch the sampler draws; `slots` (default: all) the slots this
    /// process holds of it (data parallelism, DataParallel.swift).
    init(model: ReasoningModel<Float>, data: ExampleSource, batch: Int, slots: Int? = nil, seed: UInt64, ignoreLabel: Int32) throws {
        self.data = data
        seqLen = data.sequenceLength
        sampler = GroupSampler(puzzleIndices: data.puzzleOffsets, groupIndices: data.groupOffsets, batchSize: batch, seed: seed)
        let slotCount = slots ?? batch
        carry = try model.makeCarry(batchSize: slotCount, side: data.canvasSide)
        probeCarry = try model.makeCarry(batchSize: slotCount, side: data.canvasSide)
        var expected = 0.0
        let groups = data.groupOffsets, puzzles = data.puzzleOffsets
        for group in 0..<max(0, groups.count - 1) where groups[group + 1] > groups[group] {
            let first = groups[group], last = groups[group + 1]
            expected += Double(puzzles[last] - puzzles[first]) / Double(last - first)
        }
        batchesPerEpoch = max(expected / Double(batch), 1e-9)
        slotSteps = [Int32](repeating: 0, count: slotCount)
        halted = [Bool](repeating: true, count: slotCount)  // every slot takes data on the first step
        currentInputs = [Int32](repeating: 0, count: slotCount * seqLen)
        currentLabels = [Int32](repeating: ignoreLabel, count: slotCount * seqLen)
        currentIdentifiers = [Int32](repeating: 0, count: slotCount)
    }

    /// Progress in epochs if one more batch were drawn.
    var nextProgress: Double { Double(draws + 1) / batchesPerEpoch }

    /// The bucket the next step trains on: the one furthest behind (the first on ties).
    static func next(_ buckets: [TrainingBucket]) -> Int {
        var best = 0
        for index in buckets.indices.dropFirst() where buckets[index].nextProgress < buckets[best].nextProgress { best = index }
        return best
    }
}
