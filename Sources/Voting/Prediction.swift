// Inputs and outputs of voting (docs/SPEC.md §7): one model prediction per augmented test input, and the
// candidates it votes for once the augmentation is undone.
import ARCCore

/// One model prediction for one (possibly augmented) test input.
public struct Prediction: Sendable, Equatable {
    /// `<task>` or `<task>_t<tid>_<10-digit colour map>` (docs/SPEC.md §3); names the augmentation to undo.
    public var puzzleName: String
    /// Index of the test input within its task (test order of the challenges file).
    public var testIndex: Int
    /// The decoded output canvas in the augmented frame; nil if the canvas did not decode to a grid.
    public var grid: Grid?
    /// The q_halt logit of the final ACT step (sigmoid is applied when voting).
    public var qHalt: Float

    public init(puzzleName: String, testIndex: Int, grid: Grid?, qHalt: Float) {
        self.puzzleName = puzzleName
        self.testIndex = testIndex
        self.grid = grid
        self.qHalt = qHalt
    }
}

/// Identifies one test input: a task id and the index of its test pair.
public struct TestInputKey: Hashable, Sendable, Comparable, CustomStringConvertible {
    public var task: String
    public var testIndex: Int
    public init(task: String, testIndex: Int) {
        self.task = task
        self.testIndex = testIndex
    }
    public static func < (a: TestInputKey, b: TestInputKey) -> Bool {
        (a.task, a.testIndex) < (b.task, b.testIndex)
    }
    public var description: String { "\(task) test \(testIndex)" }
}

/// A distinct grid predicted for a test input (in the original frame) and its support.
public struct Candidate: Hashable, Sendable {
    public var grid: Grid
    /// Number of predictions that decoded to this grid.
    public var votes: Int
    /// Mean of sigmoid(q_halt) over those predictions, in 0...1.
    public var meanQ: Double
    public init(grid: Grid, votes: Int, meanQ: Double) {
        self.grid = grid
        self.votes = votes
        self.meanQ = meanQ
    }

    /// The ranking order (docs/SPEC.md §7): more votes first, then higher mean q, then — a deterministic
    /// final tie-break of our own, so the result never depends on the order of the predictions —
    /// the grid with fewer rows, then fewer columns, then the lexicographically smaller row-major cells.
    public static func ranksBefore(_ a: Candidate, _ b: Candidate) -> Bool {
        if a.votes != b.votes { return a.votes > b.votes }
        if a.meanQ != b.meanQ { return a.meanQ > b.meanQ }
        if a.grid.rows != b.grid.rows { return a.grid.rows < b.grid.rows }
        if a.grid.cols != b.grid.cols { return a.grid.cols < b.grid.cols }
        return a.grid.cells.lexicographicallyPrecedes(b.grid.cells)
    }
}

/// The ranked candidates of one test input.
public struct RankedCandidates: Sendable, Equatable {
    public var key: TestInputKey
    /// Best first (see `Candidate.ranksBefore`).
    public var candidates: [Candidate]
    /// Predictions for this test input that gave no usable grid (undecodable canvas or invalid grid).
    public var undecodable: Int
    public init(key: TestInputKey, candidates: [Candidate], undecodable: Int = 0) {
        self.key = key
        self.candidates = candidates
        self.undecodable = undecodable
    }
}
