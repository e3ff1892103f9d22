// Encoding one task's group of puzzles into token buffers (docs/SPEC.md §2-3): the task's random
// stream, its augmentations, and each pair on its canvas (translated in the train split), into
// recycled byte buffers. Part of DatasetBuilder (DatasetBuilder.swift has the overview).
import ARCCore
import Foundation

/// A reusable, uninitialised byte buffer (the builder recycles them between tasks so that
/// streaming gigabytes does not mean faulting in gigabytes of fresh pages).
final class ByteBuffer: @unchecked Sendable {
    private(set) var pointer: UnsafeMutablePointer<UInt8>
    private(set) var capacity: Int
    private(set) var count = 0

    init(capacity: Int = 1 << 20) {
        self.capacity = max(capacity, 1)
        pointer = .allocate(capacity: self.capacity)
    }
    deinit { pointer.deallocate() }

    /// Sets the length to `count` bytes (contents unspecified; callers write every byte).
    func resize(_ newCount: Int) {
        if newCount > capacity {
            pointer.deallocate()
            capacity = max(newCount, capacity * 2)
            pointer = .allocate(capacity: capacity)
        }
        count = newCount
    }

    var buffer: UnsafeMutableBufferPointer<UInt8> { UnsafeMutableBufferPointer(start: pointer, count: count) }
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: count) }
}

/// The four buffers of one chunk: train-split inputs and labels, test-split inputs and labels.
struct ChunkBuffers: @unchecked Sendable {
    let trainInputs = ByteBuffer(), trainLabels = ByteBuffer()
    let testInputs = ByteBuffer(), testLabels = ByteBuffer()
}

/// Consecutive puzzles of one task's group, encoded.
struct EncodedChunk: @unchecked Sendable {
    var puzzles: Int
    var buffers: ChunkBuffers
}

extension DatasetBuilder {
    /// The task's random stream: the augmentation draws first, then the translations of its
    /// train-split puzzles in puzzle order (the test split draws nothing), so how the group is
    /// cut into chunks does not change a byte.
    static func randomStream(_ job: BuildJob, options: DatasetBuildOptions) -> Xoshiro256StarStar {
        Xoshiro256StarStar(seed: options.seed, stream: StableHash.fnv1a64(job.name))
    }

    /// The task's group: the original and its deduplicated augmentations.
    static func group(_ job: BuildJob, options: DatasetBuildOptions, rng: inout Xoshiro256StarStar) -> [Augmentation] {
        AugmentationPlanner.draw(pairs: job.trainPairs + job.testPairs, count: options.numAug,
                                 retriesFactor: options.retriesFactor, using: &rng)
    }

    /// Encodes the puzzles `augmentations` (consecutive members of the group) for both splits
    /// into `buffers`, every byte written.
    static func encode(_ job: BuildJob, augmentations: ArraySlice<Augmentation>, options: DatasetBuildOptions,
                       rng: inout Xoshiro256StarStar, buffers: ChunkBuffers) {
        let side = job.side, seqLen = side * side, bucketMode = options.canvasBuckets != nil
        let puzzles = augmentations.count
        buffers.trainInputs.resize(puzzles * job.trainPairs.count * seqLen)
        buffers.trainLabels.resize(puzzles * job.trainPairs.count * seqLen)
        buffers.testInputs.resize(puzzles * job.testPairs.count * seqLen)
        buffers.testLabels.resize(puzzles * job.testPairs.count * seqLen)
        func encodePairs(_ pairs: [Pair], _ aug: Augmentation, translate: Bool, first: Int,
                         _ inputs: UnsafeMutableBufferPointer<UInt8>, _ labels: UnsafeMutableBufferPointer<UInt8>) {
            // One pair per puzzle, chosen at random, stays at (0, 0) (docs/SPEC.md §2).
            let keep = translate && !pairs.isEmpty ? rng.nextInt(below: pairs.count) : 0
            for (k, pair) in pairs.enumerated() {
                var r0 = 0, c0 = 0
                if translate && k != keep {
                    let input = Dihedral.shape(aug.dihedral, rows: pair.input.rows, cols: pair.input.cols)
                    let output = pair.output.map { Dihedral.shape(aug.dihedral, rows: $0.rows, cols: $0.cols) } ?? (rows: 0, cols: 0)
                    let rows = max(input.rows, output.rows), cols = max(input.cols, output.cols)
                    // Bucket mode keeps the EOS row and column inside a bucket below 30 (CanvasBuckets).
                    let range = bucketMode ? CanvasBuckets.translationRange(rows: rows, cols: cols, side: side)
                                           : SequenceCodec.maximumOffsets(rows: rows, cols: cols, canvas: side)
                    r0 = rng.nextInt(in: 0...max(0, range.row))
                    c0 = rng.nextInt(in: 0...max(0, range.col))
                }
                let slot = (first + k) * seqLen
                // The grid fits (the plan checked it) except an evaluation label larger than its
                // bucket, which is cropped to the bucket (CanvasBuckets.encode).
                CanvasBuckets.encode(tokens: UnsafeMutableBufferPointer(rebasing: inputs[slot..<(slot + seqLen)]),
                                     grid: pair.input, augmentation: aug, side: side, rowOffset: r0, colOffset: c0)
                let label = UnsafeMutableBufferPointer(rebasing: labels[slot..<(slot + seqLen)])
                if let output = pair.output {
                    CanvasBuckets.encode(tokens: label, grid: output, augmentation: aug, side: side, rowOffset: r0, colOffset: c0)
                } else {
                    label.update(repeating: SequenceCodec.padToken)  // unknown output: all PAD, ignored by the loss
                }
            }
        }
        for (p, aug) in augmentations.enumerated() {
            encodePairs(job.trainPairs, aug, translate: true, first: p * job.trainPairs.count, buffers.trainInputs.buffer, buffers.trainLabels.buffer)
            encodePairs(job.testPairs, aug, translate: false, first: p * job.testPairs.count, buffers.testInputs.buffer, buffers.testLabels.buffer)
        }
    }
}
