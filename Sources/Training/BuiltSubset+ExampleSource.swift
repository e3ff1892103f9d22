// The built dataset (ARCAugment.BuiltSubset, memory-mapped .npy arrays) as the trainer's
// example source; label PAD (the dataset's ignore_label_id) becomes the loss's ignore label.
// A set of a size-bucketed dataset gives examples of its canvas side (side * side tokens).
import ARCAugment

/// A built subset with its offsets widened once, for the sampler.
public final class BuiltExampleSource: ExampleSource {
    public let subset: BuiltSubset
    public let sequenceLength: Int
    public let canvasSide: Int?
    public let puzzleOffsets: [Int]
    public let groupOffsets: [Int]
    let datasetIgnoreLabel: UInt8?

    public init(subset: BuiltSubset, ignoreLabelId: Int?) {
        self.subset = subset
        sequenceLength = subset.tokensPerExample
        canvasSide = subset.side
        puzzleOffsets = subset.puzzleIndices.map(Int.init)
        groupOffsets = subset.groupIndices.map(Int.init)
        datasetIgnoreLabel = ignoreLabelId.map { UInt8($0) }
    }

    public func identifier(ofPuzzle puzzle: Int) -> Int32 { subset.puzzleIdentifiers[puzzle] }

    public func copyExample(_ example: Int, inputs: UnsafeMutablePointer<Int32>, labels: UnsafeMutablePointer<Int32>, ignoreLabel: Int32) {
        let input = subset.input(example), label = subset.label(example)
        for t in 0..<sequenceLength {
            inputs[t] = Int32(input[t])
            let l = label[t]
            labels[t] = (datasetIgnoreLabel != nil && l == datasetIgnoreLabel!) ? ignoreLabel : Int32(l)
        }
    }
}
