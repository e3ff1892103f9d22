// From ranked candidates to a submission (docs/SPEC.md §7): attempt_1, attempt_2 = the top two candidates,
// one candidate fills both attempts, and a test input without any candidate gets a documented
// fallback for both attempts (never a missing entry). Fallbacks are counted and listed.
import ARCCore
import Foundation

/// What to submit for a test input with no candidate (task left out of the run, no decodable prediction).
public enum Fallback: String, Sendable, CaseIterable {
    /// The test input grid itself, for both attempts (a common ARC baseline: many outputs resemble the input).
    case testInput = "test-input"
    /// A 2x2 grid of zeros, as in Kaggle's `sample_submission.json`.
    case zeros2x2 = "zeros-2x2"

    public func grid(for input: Grid) -> Grid {
        switch self {
        case .testInput: return input
        case .zeros2x2: return Grid(rows: 2, cols: 2, fill: 0)
        }
    }
}

/// What assembly did.
public struct AssemblyReport: Sendable, Equatable {
    /// Test inputs that got the fallback, in challenges order.
    public var fallbacks: [TestInputKey] = []
    /// Test inputs whose single candidate filled both attempts.
    public var singleCandidate = 0
    /// Test inputs with two or more candidates.
    public var multipleCandidates = 0
    public var testInputs = 0
    public init() {}
    /// Tasks with at least one fallback entry.
    public var tasksWithFallback: Int { Set(fallbacks.map(\.task)).count }
}

public enum SubmissionAssembler {
    /// attempt_1, attempt_2 = the first two candidates (already ranked); a single candidate fills both;
    /// nil when there is none.
    public static func attempts(from ranked: [Candidate]) -> Attempts? {
        guard let first = ranked.first else { return nil }
        return Attempts(attempt1: first.grid, attempt2: ranked.count > 1 ? ranked[1].grid : first.grid)
    }

    /// One entry per test input of `challenges` (challenges order, test order), from `table` or the fallback.
    public static func assemble(table: CandidateTable, challenges: TaskSet, fallback: Fallback = .testInput) -> (submission: Submission, report: AssemblyReport) {
        var submission = Submission()
        var report = AssemblyReport()
        for task in challenges.tasks {
            var entries = [Attempts]()
            for (k, pair) in task.test.enumerated() {
                report.testInputs += 1
                let key = TestInputKey(task: task.id, testIndex: k)
                let ranked = table[key]?.candidates ?? []
                if let a = attempts(from: ranked) {
                    entries.append(a)
                    if ranked.count == 1 { report.singleCandidate += 1 } else { report.multipleCandidates += 1 }
                } else {
                    let g = fallback.grid(for: pair.input)
                    entries.append(Attempts(attempt1: g, attempt2: g))
                    report.fallbacks.append(key)
                }
            }
            submission[task.id] = entries
        }
        return (submission, report)
    }
}

/// Everything voting produces for a run.
public struct VoteOutcome: Sendable {
    public var table: CandidateTable
    public var statistics: VoteStatistics
    public var submission: Submission
    public var assembly: AssemblyReport
    public var fallback: Fallback

    /// Votes, then assembles the submission for every test input of `challenges`.
    public init(predictions: [Prediction], challenges: TaskSet, fallback: Fallback = .testInput) {
        var accumulator = VoteAccumulator(challenges: challenges)
        for p in predictions { accumulator.add(p) }
        self.init(accumulator: accumulator, challenges: challenges, fallback: fallback)
    }

    /// Assembles from predictions already accumulated (streaming use); `accumulator` should have been
    /// made with the same `challenges`.
    public init(accumulator: VoteAccumulator, challenges: TaskSet, fallback: Fallback = .testInput) {
        table = accumulator.table()
        statistics = accumulator.statistics
        self.fallback = fallback
        (submission, assembly) = SubmissionAssembler.assemble(table: table, challenges: challenges, fallback: fallback)
    }

    /// Writes `submission.json` (validated against `challenges`, atomic) and `predictions.jsonl` (atomic).
    public func write(submissionURL: URL, predictionsURL: URL, challenges: TaskSet) throws {
        try submission.write(to: submissionURL, validatingAgainst: SubmissionExpectation(challenges: challenges))
        try table.write(to: predictionsURL)
    }

    /// A few human-readable lines: votes, undecodable predictions, fallbacks.
    public var summaryLines: [String] {
        var lines = [String]()
        let s = statistics
        lines.append("predictions: \(s.predictions), votes: \(s.votes), undecodable: \(s.undecodable), invalid grids: \(s.invalidGrid)"
                     + (s.unknownTask > 0 ? ", unknown task: \(s.unknownTask)" : "")
                     + (s.testIndexOutOfRange > 0 ? ", test index out of range: \(s.testIndexOutOfRange)" : "")
                     + (s.nanQHalt > 0 ? ", NaN q_halt: \(s.nanQHalt)" : ""))
        lines.append("test inputs: \(assembly.testInputs), with 2+ candidates: \(assembly.multipleCandidates), one candidate (fills both attempts): \(assembly.singleCandidate), fallback: \(assembly.fallbacks.count) (in \(assembly.tasksWithFallback) tasks, \(fallback.rawValue) for both attempts)")
        return lines
    }
}
