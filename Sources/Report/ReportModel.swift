// What the HTML report shows, computed before any HTML is written: the inputs (`ReportInput`), and per
// task and test input the submitted attempts with their votes and mean q, the truth when known, the
// next candidates, and a status (solved / wrong / no candidate / no truth). Scores come from the
// project's scorer (ARCCore `SubmissionScorer`, Voting `CandidateTable.passAtK`, docs/SPEC.md §7), never
// recomputed here. Only the top candidates are kept, so a run with 1000 augmentations stays small.
import ARCCore
import Foundation
import Voting

/// Everything the report is built from (already loaded).
public struct ReportInput: Sendable {
    /// Page title.
    public var title: String
    /// A caption under the title (e.g. "demo data").
    public var note: String?
    /// The challenges (demonstration pairs and test inputs; test outputs when known).
    public var challenges: TaskSet
    /// Where the challenges came from (shown as "Data").
    public var challengesDescription: String
    public var submission: Submission
    /// Where the submission came from (shown; used in error messages).
    public var submissionFile: String
    /// The candidate table (`predictions.jsonl`); nil when absent (no vote counts then).
    public var candidates: CandidateTable?
    /// Ground truth for scoring; nil when unknown (e.g. the Kaggle test split). When nil, the truth of
    /// test pairs that have outputs in `challenges` is still drawn.
    public var solutions: SolutionSet?
    /// The run folder, config and metrics, when known.
    public var runDescription: String?
    public var config: RunConfig?
    public var metrics: MetricsLog?
    /// Extra lines shown in the summary (missing optional files and the like).
    public var notices: [String]
    /// The tasks the evaluated dataset holds (evaluation.json's `dataset_tasks`); nil = all. When fewer
    /// than the challenges, the scores, counts and task list are about these tasks, and the whole set's
    /// scores are shown second (the other tasks only hold fallback attempts).
    public var focusTasks: Set<String>?

    public init(title: String, note: String? = nil, challenges: TaskSet, challengesDescription: String,
                submission: Submission, submissionFile: String, candidates: CandidateTable? = nil,
                solutions: SolutionSet? = nil, runDescription: String? = nil, config: RunConfig? = nil,
                metrics: MetricsLog? = nil, notices: [String] = []) {
        self.title = title
        self.note = note
        self.challenges = challenges
        self.challengesDescription = challengesDescription
        self.submission = submission
        self.submissionFile = submissionFile
        self.candidates = candidates
        self.solutions = solutions
        self.runDescription = runDescription
        self.config = config
        self.metrics = metrics
        self.notices = notices
    }
}

/// The outcome of one test input.
public enum TestStatus: String, Sendable, CaseIterable {
    /// attempt_1 or attempt_2 equals the truth.
    case solved
    /// Candidates exist but neither attempt equals the truth.
    case wrong
    /// No candidate (the submission holds the fallback); counts as wrong in the score. Also used when
    /// the truth is unknown.
    case noCandidate = "no-candidate"
    /// The truth is unknown (and there are candidates, or no candidate table).
    case unknown
}

/// The outcome of one task.
public enum TaskStatus: String, Sendable, CaseIterable {
    case solved, partial, wrong
    case noCandidate = "no-candidate"
    case unknown

    /// Sort order of the page: solved first.
    var order: Int {
        switch self {
        case .solved: return 0
        case .partial: return 1
        case .wrong: return 2
        case .noCandidate: return 3
        case .unknown: return 4
        }
    }

    public var label: String {
        switch self {
        case .solved: return "solved"
        case .partial: return "partly solved"
        case .wrong: return "wrong"
        case .noCandidate: return "no candidate"
        case .unknown: return "no truth"
        }
    }
}

/// One submitted attempt and what the candidate table says about it.
public struct AttemptView: Sendable {
    public var grid: Grid
    /// The candidate it came from (votes, mean q); nil for a fallback or when there is no table.
    public var candidate: Candidate?
    /// 1-based rank in the candidate table.
    public var rank: Int?
    /// nil when the truth is unknown.
    public var correct: Bool?
}

/// One test input of a task.
public struct TestView: Sendable {
    public var index: Int
    public var input: Grid
    public var truth: Grid?
    public var attempt1: AttemptView
    public var attempt2: AttemptView
    /// The candidates after the two attempts' ranks (up to `ReportModel.nextCandidateCount`).
    public var next: [(rank: Int, candidate: Candidate)]
    /// Votes of each ranked candidate (all of them, for the vote-split bar), best first.
    public var voteCounts: [Int]
    public var candidateCount: Int
    public var undecodable: Int
    /// 1-based rank of the truth among the candidates, when known and present.
    public var truthRank: Int?
    /// False when the candidate table has no line for this test input (or there is no table).
    public var hasEntry: Bool
    public var status: TestStatus

    public var totalVotes: Int { voteCounts.saturatingSum }
}

/// One task.
public struct TaskView: Sendable {
    public var task: ARCTask
    public var tests: [TestView]
    public var status: TaskStatus
    public var solvedCount: Int { tests.filter { $0.status == .solved }.count }
}

/// The whole page's content.
public struct ReportModel: Sendable {
    public static let nextCandidateCount = 5
    /// Candidates kept per test input for the vote-split bar (the rest are summed as "others").
    public static let voteBarCandidates = 12

    public var input: ReportInput
    /// In page order: solved, partly solved, wrong, no candidate, no truth; then by task id.
    public var tasks: [TaskView]
    /// Scores when solutions are known: over the focus tasks when a focus is set.
    public var score: ScoreReport?
    /// Scores over every task of the challenges, when a focus on fewer tasks is set.
    public var wholeSetScore: ScoreReport?
    /// Whether the page is about a subset of the challenges (`input.focusTasks`).
    public var isFocused: Bool { wholeSetScore != nil }
    public var passAtK: PassAtKReport?
    public var statusCounts: [TestStatus: Int]
    public var taskStatusCounts: [TaskStatus: Int]

    /// Builds the model. Throws when the submission does not match the challenges (tasks, test counts)
    /// or the candidate table names tasks/test inputs the solutions do not have.
    public init(_ input: ReportInput) throws {
        self.input = input
        let expectation = SubmissionExpectation(challenges: input.challenges, source: input.challengesDescription)
        try input.submission.validate(against: expectation, file: input.submissionFile)
        if let solutions = input.solutions {
            try solutions.check(against: input.challenges)
            let whole = try SubmissionScorer.score(input.submission, solutions: solutions, file: input.submissionFile)
            if let focus = input.focusTasks, focus.count < whole.taskCount {
                score = whole.restricted(to: focus)
                wholeSetScore = whole
            } else {
                score = whole
            }
            passAtK = try input.candidates?.passAtK(solutions: solutions, ks: [1, 2, 5, 10])
        }

        var views = [TaskView]()
        var counts = [TestStatus: Int]()
        var taskCounts = [TaskStatus: Int]()
        let focus = input.focusTasks.flatMap { $0.count < input.challenges.tasks.count ? $0 : nil }
        for task in input.challenges.tasks where focus?.contains(task.id) ?? true {
            let attempts = input.submission[task.id]!
            var tests = [TestView]()
            for (k, pair) in task.test.enumerated() {
                let truth = input.solutions?.outputs[task.id]?[k] ?? pair.output
                let entry = input.candidates?[task.id, k]
                let ranked = entry?.candidates ?? []
                func attemptView(_ grid: Grid) -> AttemptView {
                    let rank = ranked.firstIndex { $0.grid == grid }
                    return AttemptView(grid: grid, candidate: rank.map { ranked[$0] }, rank: rank.map { $0 + 1 },
                                       correct: truth.map { $0 == grid })
                }
                let a1 = attemptView(attempts[k].attempt1)
                let a2 = attemptView(attempts[k].attempt2)
                let shownRanks = Set([a1.rank, a2.rank].compactMap { $0 })
                var next = [(rank: Int, candidate: Candidate)]()
                for (i, c) in ranked.enumerated() where !shownRanks.contains(i + 1) {
                    if next.count == ReportModel.nextCandidateCount { break }
                    next.append((rank: i + 1, candidate: c))
                }
                let truthRank = truth.flatMap { t in ranked.firstIndex { $0.grid == t }.map { $0 + 1 } }
                // A fallback that happens to equal the truth still counts as solved (as in the score); "no
                // candidate" is shown even when the truth is unknown (e.g. the Kaggle test split).
                let status: TestStatus
                if a1.correct == true || a2.correct == true {
                    status = .solved
                } else if input.candidates != nil && ranked.isEmpty {
                    status = .noCandidate
                } else if truth == nil {
                    status = .unknown
                } else {
                    status = .wrong
                }
                counts[status, default: 0] += 1
                tests.append(TestView(index: k, input: pair.input, truth: truth, attempt1: a1, attempt2: a2, next: next,
                                      voteCounts: ranked.map(\.votes), candidateCount: ranked.count,
                                      undecodable: entry?.undecodable ?? 0, truthRank: truthRank,
                                      hasEntry: entry != nil, status: status))
            }
            let statuses = tests.map(\.status)
            let taskStatus: TaskStatus
            if statuses.contains(.unknown) && !statuses.contains(.solved) && !statuses.contains(.wrong) && !statuses.contains(.noCandidate) {
                taskStatus = .unknown
            } else if !statuses.isEmpty && statuses.allSatisfy({ $0 == .solved }) {
                taskStatus = .solved
            } else if statuses.contains(.solved) {
                taskStatus = .partial
            } else if !statuses.isEmpty && statuses.allSatisfy({ $0 == .noCandidate || $0 == .unknown }) && statuses.contains(.noCandidate) {
                taskStatus = .noCandidate
            } else if statuses.contains(.wrong) || statuses.contains(.noCandidate) {
                taskStatus = .wrong
            } else {
                taskStatus = .unknown
            }
            taskCounts[taskStatus, default: 0] += 1
            views.append(TaskView(task: task, tests: tests, status: taskStatus))
        }
        views.sort { a, b in
            a.status.order != b.status.order ? a.status.order < b.status.order : a.task.id < b.task.id
        }
        tasks = views
        statusCounts = counts
        taskStatusCounts = taskCounts
    }
}

/// Counts read from predictions.jsonl are bounded (CandidateTable.maximumCount), but a table can also be
/// built in code: the report's sums stop at Int.max instead of trapping.
extension Int {
    func addingSaturated(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        return overflow ? (other > 0 ? .max : .min) : sum
    }
}

extension Sequence where Element == Int {
    var saturatingSum: Int { reduce(0) { $0.addingSaturated($1) } }
}
