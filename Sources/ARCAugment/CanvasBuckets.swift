// Size-bucketed canvases (docs/DESIGN.md "Formats", "Canvas buckets"): instead of padding every
// example to the 30 x 30 board, each task goes to the smallest listed side s that holds it and its
// examples are stored as s x s tokens -- exactly the top-left s x s crop of their 30 x 30 encoding
// (docs/SPEC.md §2), so token t of a side-s example is canvas cell (t / s, t % s), position
// row * 30 + col on the 30 x 30 board.
//
// Public API:
//   CanvasBuckets.auto                          the `--canvas auto` list (measured; see DESIGN.md)
//   CanvasBuckets.validate(_ sides:) throws     ascending, each 2...30 (CanvasBucketError)
//   CanvasBuckets.need(_ task:, role:) -> Int   min(30, M + 1), M the largest side the task needs
//   CanvasBuckets.predictedOutputShape(demonstrations:testInput:) -> (rows, cols)
//   CanvasBuckets.side(need:in:) -> Int?        smallest side >= need (nil: no bucket holds it)
//   CanvasBuckets.setName(side:) -> String      "c<side>"
//   CanvasBuckets.translationRange(rows:cols:side:) -> (row, col)   largest offsets in a bucket
//   CanvasBuckets.encode(tokens:grid:augmentation:side:rowOffset:colOffset:)  the crop of the 30 x 30 encoding
import ARCCore

public struct CanvasBucketError: Error, CustomStringConvertible, Sendable {
    public var description: String
    public init(_ description: String) { self.description = description }
}

public enum CanvasBuckets {
    /// The `--canvas auto` sides. Chosen by measurement on ARC-AGI-1 (+ ConceptARC), ARC-AGI-2 and
    /// the Kaggle set (docs/DESIGN.md "Canvas buckets"): about 0.38-0.44 of the 30-only tokens per
    /// epoch and 0.23-0.30 of its attention cost, with six buckets of at least ~80 tasks each.
    public static let auto = [8, 12, 16, 20, 24, 30]
    /// The side of the position board (token positions always refer to the 30 x 30 canvas).
    public static let board = SequenceCodec.defaultCanvas
    public static let sideRange = 2...SequenceCodec.defaultCanvas

    /// Bucket lists are non-empty, strictly ascending, each side 2...30.
    public static func validate(_ sides: [Int]) throws {
        guard !sides.isEmpty else { throw CanvasBucketError("the bucket list is empty") }
        for s in sides where !sideRange.contains(s) {
            throw CanvasBucketError("bucket side \(s) is outside \(sideRange.lowerBound)...\(sideRange.upperBound)")
        }
        for k in 1..<sides.count where sides[k] <= sides[k - 1] {
            throw CanvasBucketError("bucket sides must be strictly ascending (\(sides[k - 1]) then \(sides[k]))")
        }
    }

    public static func setName(side: Int) -> String { "c\(side)" }

    /// The smallest listed side >= need, or nil.
    public static func side(need: Int, in sides: [Int]) -> Int? { sides.first { $0 >= need } }

    /// The canvas side a task needs: min(30, M + 1) (the + 1 keeps the EOS row and column on the
    /// canvas), with M the largest row or column count (either, since dihedral transforms swap
    /// them) over its demonstrations, its test inputs, and its test outputs: the real ones in the
    /// training role (they are training data then), a prediction from the demonstrations in the
    /// evaluation role (never the real one, which a hidden test set does not have).
    public static func need(_ task: ARCTask, role: SetRole) -> Int {
        var m = 0
        func add(_ rows: Int, _ cols: Int) { m = max(m, rows, cols) }
        for p in task.train {
            add(p.input.rows, p.input.cols)
            if let o = p.output { add(o.rows, o.cols) }
        }
        for p in task.test {
            add(p.input.rows, p.input.cols)
            switch role {
            case .training:
                if let o = p.output { add(o.rows, o.cols) }
            case .evaluation:
                let shape = predictedOutputShape(demonstrations: task.train, testInput: (p.input.rows, p.input.cols))
                add(shape.rows, shape.cols)
            }
        }
        return min(board, m + 1)
    }

    /// The output shape a test input is expected to have, from the demonstrations only:
    /// 1. every demonstration output has its input's shape -> the test input's shape;
    /// 2. all demonstration outputs share one shape -> that shape;
    /// 3. every demonstration has integer ratios output / input, the same per axis for all ->
    ///    the test input scaled by them (capped at 30);
    /// 4. else a square of the largest demonstration output side times the largest output /
    ///    input side ratio (rounded up, capped at 30).
    /// Demonstrations without an output are not used.
    public static func predictedOutputShape(demonstrations: [Pair], testInput: (rows: Int, cols: Int)) -> (rows: Int, cols: Int) {
        // Grids are at least 1x1 (TaskLoader); an empty one is skipped rather than divided by.
        let demos: [(input: (rows: Int, cols: Int), output: (rows: Int, cols: Int))] = demonstrations.compactMap { p in
            guard p.input.rows > 0, p.input.cols > 0 else { return nil }
            return p.output.map { ((p.input.rows, p.input.cols), ($0.rows, $0.cols)) }
        }
        if demos.allSatisfy({ $0.input == $0.output }) { return testInput }
        let first = demos[0].output  // not empty: an empty list satisfied rule 1
        if demos.allSatisfy({ $0.output == first }) { return first }
        let integral = demos.allSatisfy { $0.output.rows % $0.input.rows == 0 && $0.output.cols % $0.input.cols == 0 }
        if integral {
            let rowRatio = demos[0].output.rows / demos[0].input.rows, colRatio = demos[0].output.cols / demos[0].input.cols
            if demos.allSatisfy({ $0.output.rows / $0.input.rows == rowRatio && $0.output.cols / $0.input.cols == colRatio }) {
                return (min(board, testInput.rows * rowRatio), min(board, testInput.cols * colRatio))
            }
        }
        // Largest ratio as an exact fraction num / den (sides are at most 30: no overflow).
        var num = 0, den = 1, largest = 0
        for d in demos {
            largest = max(largest, d.output.rows, d.output.cols)
            for (o, i) in [(d.output.rows, d.input.rows), (d.output.cols, d.input.cols)] where o * den > num * i {
                num = o
                den = i
            }
        }
        let side = min(board, (largest * num + den - 1) / den)
        return (side, side)
    }

    /// The largest top-left offsets for a rows x cols grid (max over a pair's input and output)
    /// in a side-s bucket: the EOS row and column stay inside (s - 1 - rows), except on the full
    /// 30 x 30 board, where the reference range 30 - rows applies (docs/SPEC.md §2).
    public static func translationRange(rows: Int, cols: Int, side: Int) -> (row: Int, col: Int) {
        side >= board ? (board - rows, board - cols) : (side - 1 - rows, side - 1 - cols)
    }

    /// Writes the top-left side x side crop of the 30 x 30 encoding of `augmentation.apply(to: grid)`
    /// at the offsets into `tokens` (side * side cells). A grid that fits the bucket is encoded on
    /// the side x side canvas directly (the same cells); a larger one (an evaluation label bigger
    /// than its predicted bucket) is encoded on the board and cropped.
    public static func encode(tokens: UnsafeMutableBufferPointer<UInt8>, grid: Grid, augmentation: Augmentation,
                              side: Int, rowOffset: Int, colOffset: Int) {
        let (rows, cols) = Dihedral.shape(augmentation.dihedral, rows: grid.rows, cols: grid.cols)
        if rowOffset + rows <= side && colOffset + cols <= side {
            SequenceCodec.encode(tokens: tokens, grid: grid, augmentation: augmentation, canvas: side, rowOffset: rowOffset, colOffset: colOffset)
            return
        }
        var full = [UInt8](repeating: 0, count: board * board)
        full.withUnsafeMutableBufferPointer {
            SequenceCodec.encode(tokens: $0, grid: grid, augmentation: augmentation, canvas: board, rowOffset: rowOffset, colOffset: colOffset)
        }
        for r in 0..<side {
            for c in 0..<side { tokens[r * side + c] = full[r * board + c] }
        }
    }
}
