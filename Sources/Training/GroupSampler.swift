// The training sampler (docs/SPEC.md §6, the reference's `_iter_train` and `_sample_batch`): a pass
// shuffles the groups once per epoch and concatenates those permutations; take a group, pick one
// of its puzzles at random, put its examples (random order, as many as fit) in the batch; fill
// the batch; drop the last incomplete batch of the pass. A pass spans `epochsPerPass` epochs: 1
// when one epoch can always fill a batch, else the fewest that can (the reference concatenates
// `epochs_per_iter` permutations the same way), so a small dataset still gives full batches.
// Its whole state (first epoch of the pass, position, group order, RNG) is saved for exact resume.
// `next(into:)` reuses the caller's batch and the sampler's buffers: a training step allocates nothing.
import Kernels

public struct GroupSampler: Sendable {
    public struct State: Sendable, Equatable, Codable {
        /// The first epoch of the current pass.
        public var epoch: Int
        /// Next position in `groupOrder`.
        public var position: Int
        /// The pass's group order: `epochsPerPass` permutations of the groups, one after the other.
        public var groupOrder: [Int32]
        /// SplitMix64 state of the in-pass draws.
        public var rngState: UInt64
    }

    public struct Batch: Sendable, Equatable {
        /// Example indices into the dataset's inputs/labels.
        public var examples: [Int]
        /// The puzzle index of each example (for its identifier).
        public var puzzles: [Int]
        /// The epoch of the batch's first group visit.
        public var epoch: Int
    }

    public let puzzleIndices: [Int]
    public let groupIndices: [Int]
    public let batchSize: Int
    public let seed: UInt64
    /// Epochs per pass: the fewest whose group visits always fill at least one batch.
    public let epochsPerPass: Int
    public private(set) var state: State
    /// Scratch for the shuffled example order of one puzzle (capacity: the largest puzzle).
    private var exampleOrder: [Int] = []

    /// - puzzleIndices: prefix offsets of each puzzle's examples (count = puzzles + 1, non-decreasing).
    /// - groupIndices: prefix offsets of each group's puzzles (count = groups + 1, non-decreasing).
    public init(puzzleIndices: [Int], groupIndices: [Int], batchSize: Int, seed: UInt64) {
        precondition(groupIndices.count >= 2 && puzzleIndices.count >= 2 && batchSize >= 1, "empty dataset or batch")
        self.puzzleIndices = puzzleIndices
        self.groupIndices = groupIndices
        self.batchSize = batchSize
        self.seed = seed
        epochsPerPass = Self.epochsPerPass(puzzleIndices: puzzleIndices, groupIndices: groupIndices, batchSize: batchSize)
        state = State(epoch: 0, position: 0, groupOrder: [], rngState: seed)
        state.groupOrder.reserveCapacity((groupIndices.count - 1) * epochsPerPass)
        var largestPuzzle = 0
        for puzzle in 0..<(puzzleIndices.count - 1) { largestPuzzle = max(largestPuzzle, puzzleIndices[puzzle + 1] - puzzleIndices[puzzle]) }
        exampleOrder.reserveCapacity(largestPuzzle)
        startPass(epoch: 0)
    }

    /// The fewest examples one epoch is sure to draw is the sum over groups of the group's smallest
    /// puzzle; a pass of ceil(batchSize / that) epochs always fills a batch (batchSize passes when
    /// some group may draw nothing, i.e. it has no puzzle or an empty one).
    public static func epochsPerPass(puzzleIndices: [Int], groupIndices: [Int], batchSize: Int) -> Int {
        var guaranteed = 0
        for group in 0..<(groupIndices.count - 1) {
            let puzzles = groupIndices[group]..<groupIndices[group + 1]
            let smallest = puzzles.map { puzzleIndices[$0 + 1] - puzzleIndices[$0] }.min() ?? 0
            guaranteed += smallest
            if guaranteed >= batchSize { return 1 }
        }
        return guaranteed > 0 ? (batchSize + guaranteed - 1) / guaranteed : batchSize
    }

    public mutating func restore(_ saved: State) { state = saved }

    public var groupCount: Int { groupIndices.count - 1 }

    /// Starts the pass from `epoch`: its group order is rewritten in place (the same values as
    /// concatenating `epochsPerPass` shuffled permutations).
    private mutating func startPass(epoch: Int) {
        var rng = SplitMix64(seed: seed &+ UInt64(epoch) &* 0x2545_F491_4F6C_DD1D)
        let groups = groupCount
        state.groupOrder.removeAll(keepingCapacity: true)
        for _ in 0..<epochsPerPass {
            let start = state.groupOrder.count
            state.groupOrder.append(contentsOf: 0..<Int32(groups))
            state.groupOrder.withUnsafeMutableBufferPointer { order in
                var permutation = UnsafeMutableBufferPointer(rebasing: order[start...])
                permutation.shuffle(using: &rng)
            }
        }
        state.epoch = epoch
        state.position = 0
        state.rngState = rng.state
    }

    /// The next full batch; starts the next pass when this one cannot fill a batch.
    public mutating func next() -> Batch {
        var batch = Batch(examples: [], puzzles: [], epoch: 0)
        next(into: &batch)
        return batch
    }

    /// The next full batch, written into `batch` (its arrays are reused: no allocation once they hold
    /// batchSize entries).
    public mutating func next(into batch: inout Batch) {
        while true {
            batch.examples.removeAll(keepingCapacity: true)
            batch.puzzles.removeAll(keepingCapacity: true)
            batch.examples.reserveCapacity(batchSize)
            batch.puzzles.reserveCapacity(batchSize)
            var position = state.position
            var rng = SplitMix64(seed: state.rngState)
            while position < state.groupOrder.count && batch.examples.count < batchSize {
                let group = Int(state.groupOrder[position])
                position += 1
                let puzzleCount = groupIndices[group + 1] - groupIndices[group]
                guard puzzleCount > 0 else { continue }
                let puzzle = groupIndices[group] + Int(rng.next() % UInt64(puzzleCount))
                let start = puzzleIndices[puzzle], size = puzzleIndices[puzzle + 1] - start
                guard size > 0 else { continue }
                let take = min(size, batchSize - batch.examples.count)
                exampleOrder.removeAll(keepingCapacity: true)
                exampleOrder.append(contentsOf: 0..<size)
                exampleOrder.shuffle(using: &rng)
                for k in exampleOrder.prefix(take) {
                    batch.examples.append(start + k)
                    batch.puzzles.append(puzzle)
                }
            }
            if batch.examples.count == batchSize {
                batch.epoch = state.epoch + (groupCount > 0 ? state.position / groupCount : 0)
                state.position = position
                state.rngState = rng.state
                return
            }
            // Drop the last incomplete batch, start the next pass.
            startPass(epoch: state.epoch + epochsPerPass)
        }
    }
}
