// The training sampler (HRM-SPEC §6, the reference's `_sample_batch`): per epoch shuffle
// the groups; take a group, pick one of its puzzles at random, put its examples (random
// order, as many as fit) in the batch; fill the batch; drop the last incomplete batch.
// Its whole state (epoch, position, RNG) is saved for exact resume.
import Kernels

public struct GroupSampler: Sendable {
    public struct State: Sendable, Equatable, Codable {
        public var epoch: Int
        /// Next position in `groupOrder`.
        public var position: Int
        public var groupOrder: [Int32]
        /// SplitMix64 state of the in-epoch draws.
        public var rngState: UInt64
    }

    public struct Batch: Sendable, Equatable {
        /// Example indices into the dataset's inputs/labels.
        public var examples: [Int]
        /// The puzzle index of each example (for its identifier).
        public var puzzles: [Int]
        public var epoch: Int
    }

    public let puzzleIndices: [Int]
    public let groupIndices: [Int]
    public let batchSize: Int
    public let seed: UInt64
    public private(set) var state: State

    /// - puzzleIndices: prefix offsets of each puzzle's examples (count = puzzles + 1).
    /// - groupIndices: prefix offsets of each group's puzzles (count = groups + 1).
    public init(puzzleIndices: [Int], groupIndices: [Int], batchSize: Int, seed: UInt64) {
        precondition(groupIndices.count >= 2 && puzzleIndices.count >= 2, "empty dataset")
        self.puzzleIndices = puzzleIndices
        self.groupIndices = groupIndices
        self.batchSize = batchSize
        self.seed = seed
        state = State(epoch: 0, position: 0, groupOrder: [], rngState: seed)
        startEpoch(0)
    }

    public mutating func restore(_ saved: State) { state = saved }

    public var groupCount: Int { groupIndices.count - 1 }

    private mutating func startEpoch(_ epoch: Int) {
        var rng = SplitMix64(seed: seed &+ UInt64(epoch) &* 0x2545_F491_4F6C_DD1D)
        var order = (0..<Int32(groupCount)).map { $0 }
        order.shuffle(using: &rng)
        state = State(epoch: epoch, position: 0, groupOrder: order, rngState: rng.state)
    }

    /// The next full batch; moves to the next epoch when this one cannot fill a batch.
    public mutating func next() -> Batch {
        while true {
            var examples = [Int](), puzzles = [Int]()
            examples.reserveCapacity(batchSize)
            var position = state.position
            var rng = SplitMix64(seed: state.rngState)
            while position < state.groupOrder.count && examples.count < batchSize {
                let group = Int(state.groupOrder[position])
                position += 1
                let puzzle = groupIndices[group] + Int(rng.next() % UInt64(groupIndices[group + 1] - groupIndices[group]))
                let start = puzzleIndices[puzzle], size = puzzleIndices[puzzle + 1] - start
                let take = min(size, batchSize - examples.count)
                var chosen = Array(0..<size)
                chosen.shuffle(using: &rng)
                for k in chosen.prefix(take) {
                    examples.append(start + k)
                    puzzles.append(puzzle)
                }
            }
            if examples.count == batchSize {
                state.position = position
                state.rngState = rng.state
                return Batch(examples: examples, puzzles: puzzles, epoch: state.epoch)
            }
            // Drop the last incomplete batch, start the next epoch.
            precondition(state.position > 0 || examples.count == batchSize,
                         "the dataset cannot fill one batch of \(batchSize) examples (an epoch holds \(examples.count))")
            startEpoch(state.epoch + 1)
        }
    }
}
