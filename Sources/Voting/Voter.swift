// Voting over augmented predictions (docs/SPEC.md §7): undo the augmentation named by each prediction's
// puzzle name (§3), group by (task, test input), count each distinct grid's votes and mean
// sigmoid(q_halt), and rank (votes, then mean q, then the deterministic tie-break of
// `Candidate.ranksBefore`).
import ARCCore
import ARCAugment
import Foundation

/// Counts of what voting did with its input.
public struct VoteStatistics: Sendable, Equatable {
    public var predictions = 0
    /// Predictions whose grid was nil (the canvas did not decode).
    public var undecodable = 0
    /// Predictions whose grid was not a valid ARC grid (shape or colours); not counted as votes.
    public var invalidGrid = 0
    /// Predictions dropped because their task is not in the challenges.
    public var unknownTask = 0
    /// Predictions dropped because their test index is outside the task's test inputs.
    public var testIndexOutOfRange = 0
    /// Predictions whose q_halt was NaN (counted as sigmoid = 0).
    public var nanQHalt = 0
    public init() {}
    /// Predictions that became votes.
    public var votes: Int { predictions - undecodable - invalidGrid - unknownTask - testIndexOutOfRange }
}

public enum Voter {
    /// Numerically safe logistic function in Double; NaN gives 0.
    public static func sigmoid(_ x: Float) -> Double {
        if x.isNaN { return 0 }
        let d = Double(x)
        if d >= 0 { return 1 / (1 + exp(-d)) }
        let e = exp(d)
        return e / (1 + e)
    }

    /// Groups and ranks `predictions` (see `VoteAccumulator`, which does the work and can also be fed
    /// one prediction at a time while the model runs).
    public static func vote(_ predictions: [Prediction], challenges: TaskSet? = nil) -> (table: CandidateTable, statistics: VoteStatistics) {
        var accumulator = VoteAccumulator(challenges: challenges)
        for p in predictions { accumulator.add(p) }
        return (accumulator.table(), accumulator.statistics)
    }
}

/// Streaming voting: `add` predictions as they are produced (no need to keep them), then `table()`.
/// - With `challenges`: the table has one entry per test input of the challenges, in challenges order
///   then test order (entries without a usable prediction have no candidates); predictions of other
///   tasks or out-of-range test indices are dropped and counted.
/// - Without: one entry per (task, test index) seen, sorted by task id then test index.
/// sigmoid(q_halt) is summed in fixed point (units of 2^-40, exact integer sums), so the mean q and
/// therefore the ranking do not depend on the order in which predictions arrive.
public struct VoteAccumulator: Sendable {
    static let qScale = 1_099_511_627_776.0  // 2^40
    struct Tally: Sendable { var votes = 0; var qSum: Int64 = 0 }

    public private(set) var statistics = VoteStatistics()
    private let challenges: TaskSet?
    private let testCounts: [String: Int]?
    private var tallies = [TestInputKey: [Grid: Tally]]()
    private var undecodable = [TestInputKey: Int]()

    public init(challenges: TaskSet? = nil) {
        self.challenges = challenges
        self.testCounts = challenges.map { Dictionary($0.tasks.map { ($0.id, $0.test.count) }, uniquingKeysWith: { a, _ in a }) }
    }

    /// Undoes the prediction's augmentation and counts its vote.
    public mutating func add(_ prediction: Prediction) {
        statistics.predictions += 1
        let (task, augmentation) = Augmentation.parse(puzzleName: prediction.puzzleName)
        let key = TestInputKey(task: task, testIndex: prediction.testIndex)
        if let testCounts {
            guard let count = testCounts[task] else { statistics.unknownTask += 1; return }
            guard (0..<count).contains(prediction.testIndex) else { statistics.testIndexOutOfRange += 1; return }
        } else if prediction.testIndex < 0 {
            statistics.testIndexOutOfRange += 1
            return
        }
        guard let grid = prediction.grid else {
            statistics.undecodable += 1
            undecodable[key, default: 0] += 1
            return
        }
        guard Submission.gridProblem(grid) == nil else {
            statistics.invalidGrid += 1
            undecodable[key, default: 0] += 1
            return
        }
        if prediction.qHalt.isNaN { statistics.nanQHalt += 1 }
        let original = augmentation.undo(on: grid)
        let q = Int64((Voter.sigmoid(prediction.qHalt) * VoteAccumulator.qScale).rounded())
        tallies[key, default: [:]][original, default: Tally()].votes += 1
        tallies[key, default: [:]][original, default: Tally()].qSum += q
    }

    /// The ranked candidates of one test input.
    public func ranked(_ key: TestInputKey) -> RankedCandidates {
        let candidates = (tallies[key] ?? [:]).map { grid, t in
            Candidate(grid: grid, votes: t.votes, meanQ: Double(t.qSum) / VoteAccumulator.qScale / Double(t.votes))
        }
        return RankedCandidates(key: key, candidates: candidates.sorted(by: Candidate.ranksBefore), undecodable: undecodable[key] ?? 0)
    }

    /// The candidate table (see the type's comment for which entries it has).
    public func table() -> CandidateTable {
        if let challenges {
            var entries = [RankedCandidates]()
            for task in challenges.tasks {
                for k in task.test.indices { entries.append(ranked(TestInputKey(task: task.id, testIndex: k))) }
            }
            return CandidateTable(entries)
        }
        return CandidateTable(Set(tallies.keys).union(undecodable.keys).sorted().map(ranked))
    }
}
