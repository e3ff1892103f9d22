// `arc-pipeline score`: score a Kaggle submission against known test outputs (docs/SPEC.md §7), printing
// the Kaggle score and the reference evaluators' task-average score (both named), pass@1/pass@2,
// pass@K from a candidate table (`predictions.jsonl`) when given, and a per-task table; `--json` for
// machine output. Any problem ends with one clear line on stderr and a non-zero exit.
import ARCCore
import ArgumentParser
import Foundation
import Voting

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "Score a submission.json against the known test outputs.",
        discussion: """
            SOLUTIONS can be a Kaggle solutions file ({task_id: [grid, ...]}, e.g. \
            arc-agi_evaluation_solutions.json), a challenges-format file whose test pairs have outputs, \
            or a folder of per-task files (e.g. arc-data/arc-agi-1/evaluation).
            The submission must contain exactly the tasks of the solutions (or of --challenges when \
            given), one entry per test input, each with two valid grids.
            Metrics: Kaggle score = correct test outputs / all test outputs (either attempt exact); \
            task-average score = per-task fraction averaged over tasks (reference evaluators); \
            tasks fully solved = fraction of tasks with every test output correct (HRM arc_eval).
            """)

    @Argument(help: "The submission file (Kaggle schema).")
    var submission: String

    @Option(name: .long, help: "Ground truth: Kaggle solutions file, challenges file with outputs, or a folder of task files.")
    var solutions: String

    @Option(name: .long, help: "Challenges file or folder; the submission is checked against its tasks and test inputs.")
    var challenges: String?

    @Option(name: .long, help: "Candidate table (predictions.jsonl) for pass@K, K = 1, 2, 5, 10.")
    var candidates: String?

    @Flag(name: .long, help: "Print machine-readable JSON instead of text.")
    var json = false

    @Flag(name: .long, help: "Leave out the per-task table.")
    var noTable = false

    func run() throws {
        do {
            let result = try ScoreRun.run(submissionPath: submission, solutionsPath: solutions,
                                          challengesPath: challenges, candidatesPath: candidates)
            print(json ? result.jsonText() : result.text(includeTable: !noTable), terminator: "")
        } catch let error as ARCDataError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
    }
}
