// The training data as the trainer sees it: examples (inputs and labels, sequenceLength tokens
// each) grouped into puzzles and puzzles into groups (docs/SPEC.md §3/§6), with one puzzle
// identifier per puzzle. The built dataset (ARCAugment.BuiltSubset) conforms; a size-bucketed
// dataset gives one source per bucket, each with its canvas side.

public protocol ExampleSource {
    /// Tokens per example.
    var sequenceLength: Int { get }
    /// The side of the canvas crop the examples hold (sequenceLength == side * side, tokens keep
    /// their positions on the model's full canvas); nil for examples of the model's full sequence.
    var canvasSide: Int? { get }
    /// Prefix offsets of each puzzle's examples (puzzles + 1 entries, first 0).
    var puzzleOffsets: [Int] { get }
    /// Prefix offsets of each group's puzzles (groups + 1 entries, first 0).
    var groupOffsets: [Int] { get }
    func identifier(ofPuzzle puzzle: Int) -> Int32
    /// Copies one example's tokens; labels that the loss ignores become `ignoreLabel`.
    func copyExample(_ example: Int, inputs: UnsafeMutablePointer<Int32>, labels: UnsafeMutablePointer<Int32>, ignoreLabel: Int32)
}

/// An in-memory example source (tests, small experiments).
public struct ArrayExampleSource: ExampleSource {
    public let sequenceLength: Int
    public let canvasSide: Int?
    public let inputs: [Int32]
    public let labels: [Int32]
    public let puzzleOffsets: [Int]
    public let groupOffsets: [Int]
    public let identifiers: [Int32]
    /// The label value that means "ignore" in `labels` (the dataset's ignore_label_id).
    public let datasetIgnoreLabel: Int32?

    public init(sequenceLength: Int, inputs: [Int32], labels: [Int32], puzzleOffsets: [Int], groupOffsets: [Int],
                identifiers: [Int32], datasetIgnoreLabel: Int32? = 0, canvasSide: Int? = nil) {
        precondition(inputs.count == labels.count && inputs.count == sequenceLength * puzzleOffsets.last!)
        precondition(identifiers.count == puzzleOffsets.count - 1)
        self.sequenceLength = sequenceLength
        self.canvasSide = canvasSide
        self.inputs = inputs
        self.labels = labels
        self.puzzleOffsets = puzzleOffsets
        self.groupOffsets = groupOffsets
        self.identifiers = identifiers
        self.datasetIgnoreLabel = datasetIgnoreLabel
    }

    public func identifier(ofPuzzle puzzle: Int) -> Int32 { identifiers[puzzle] }

    public func copyExample(_ example: Int, inputs out: UnsafeMutablePointer<Int32>, labels outLabels: UnsafeMutablePointer<Int32>, ignoreLabel: Int32) {
        let base = example * sequenceLength
        for t in 0..<sequenceLength {
            out[t] = inputs[base + t]
            let l = labels[base + t]
            outLabels[t] = (datasetIgnoreLabel != nil && l == datasetIgnoreLabel!) ? ignoreLabel : l
        }
    }
}
