// The library side of `arc-pipeline score` (docs/SPEC.md §7): load the ground truth (and optionally the
// challenges and a candidate table), strictly load and validate the submission, score it, and render
// the result as text (both metrics named, pass@1/2, pass@K, per-task table) or JSON.
import ARCCore
import Foundation

/// One `score` run: what was scored and the results. Separate from argument parsing so tests can call it.
public struct ScoreRun: Sendable {
    public var submissionFile: String
    public var solutionsSource: String
    public var report: ScoreReport
    public var passAtK: PassAtKReport?

    public static func run(submissionPath: String, solutionsPath: String, challengesPath: String?, candidatesPath: String?) throws -> ScoreRun {
        let solutionsURL = URL(fileURLWithPath: solutionsPath)
        let solutions = try SolutionSet.load(from: solutionsURL)
        var expectation = solutions.expectation
        if let challengesPath {
            let challenges = try SubmissionScorer.loadChallenges(from: URL(fileURLWithPath: challengesPath))
            try solutions.check(against: challenges)
            expectation = SubmissionExpectation(challenges: challenges)
        }
        let submissionURL = URL(fileURLWithPath: submissionPath)
        let submission = try Submission.load(from: submissionURL, expected: expectation)
        let report = try SubmissionScorer.score(submission, solutions: solutions, file: submissionURL.path)
        var passAtK: PassAtKReport? = nil
        if let candidatesPath {
            let table = try CandidateTable.load(from: URL(fileURLWithPath: candidatesPath))
            passAtK = try table.passAtK(solutions: solutions, file: candidatesPath)
        }
        return ScoreRun(submissionFile: submissionPath, solutionsSource: solutionsPath, report: report, passAtK: passAtK)
    }

    static func percent(_ x: Double) -> String { String(format: "%.2f%%", x * 100) }

    public func text(includeTable: Bool) -> String {
        let r = report
        var s = ""
        if includeTable {
            let width = max(8, r.tasks.map(\.taskId.count).max() ?? 0)
            func pad(_ t: String, _ w: Int) -> String { t.count >= w ? t : t + String(repeating: " ", count: w - t.count) }
            s += pad("task", width) + "  tests  attempt_1  either  per-test (1 = attempt_1, 2 = attempt_2, . = wrong)\n"
            for t in r.tasks {
                let marks = t.tests.map { $0.attempt1Correct ? "1" : ($0.attempt2Correct ? "2" : ".") }.joined()
                s += pad(t.taskId, width) + "  " + pad("\(t.tests.count)", 5) + "  " + pad("\(t.attempt1CorrectCount)", 9)
                    + "  " + pad("\(t.correctCount)", 6) + "  " + marks + "\n"
            }
            s += "\n"
        }
        s += "submission: \(submissionFile)\nsolutions:  \(solutionsSource)\n"
        s += "tasks: \(r.taskCount), test outputs: \(r.testOutputCount)\n"
        s += "Kaggle score (correct test outputs / all test outputs, either attempt): \(r.correctOutputCount)/\(r.testOutputCount) = \(ScoreRun.percent(r.kaggleScore))\n"
        s += "Task-average score (per-task fraction, averaged over tasks; reference evaluators): \(ScoreRun.percent(r.taskAverageScore))\n"
        s += "Tasks fully solved (every test output correct; HRM arc_eval): \(r.fullySolvedTaskCount)/\(r.taskCount) = \(ScoreRun.percent(r.fullySolvedTaskFraction))\n"
        s += "pass@1 (attempt_1 only): \(r.attempt1CorrectOutputCount)/\(r.testOutputCount) = \(ScoreRun.percent(r.pass1)) per test output, \(ScoreRun.percent(r.pass1TaskAverage)) task-average\n"
        s += "pass@2 (either attempt): \(r.correctOutputCount)/\(r.testOutputCount) = \(ScoreRun.percent(r.pass2)) per test output, \(ScoreRun.percent(r.taskAverageScore)) task-average\n"
        if let p = passAtK {
            s += "candidate table pass@K (a top-K candidate equals the output)"
                + (p.missingEntries > 0 ? "; \(p.missingEntries) test outputs have no entry and count as wrong" : "") + ":\n"
            for x in p.results {
                s += "  pass@\(x.k): \(x.correctOutputs)/\(x.testOutputs) = \(ScoreRun.percent(x.perOutput)) per test output, \(ScoreRun.percent(x.taskAverage)) task-average\n"
            }
        }
        return s
    }

    public func jsonText() -> String {
        let r = report
        func num(_ x: Double) -> String { x.isFinite ? "\(x)" : "0" }
        func str(_ t: String) -> String {
            let data = try? JSONSerialization.data(withJSONObject: [t], options: [.fragmentsAllowed])
            let wrapped = data.map { String(decoding: $0, as: UTF8.self) } ?? "[\"?\"]"
            return String(wrapped.dropFirst().dropLast())
        }
        var s = "{\n"
        s += "  \"submission\": \(str(submissionFile)),\n  \"solutions\": \(str(solutionsSource)),\n"
        s += "  \"tasks\": \(r.taskCount),\n  \"test_outputs\": \(r.testOutputCount),\n"
        s += "  \"correct_outputs\": \(r.correctOutputCount),\n  \"attempt_1_correct_outputs\": \(r.attempt1CorrectOutputCount),\n"
        s += "  \"fully_solved_tasks\": \(r.fullySolvedTaskCount),\n"
        s += "  \"kaggle_score\": \(num(r.kaggleScore)),\n  \"task_average_score\": \(num(r.taskAverageScore)),\n"
        s += "  \"fully_solved_task_fraction\": \(num(r.fullySolvedTaskFraction)),\n"
        s += "  \"pass_at_1\": \(num(r.pass1)),\n  \"pass_at_1_task_average\": \(num(r.pass1TaskAverage)),\n"
        s += "  \"pass_at_2\": \(num(r.pass2)),\n  \"pass_at_2_task_average\": \(num(r.taskAverageScore)),\n"
        if let p = passAtK {
            s += "  \"candidates\": {\"missing_entries\": \(p.missingEntries), \"pass_at_k\": ["
            s += p.results.map { "{\"k\": \($0.k), \"correct_outputs\": \($0.correctOutputs), \"per_output\": \(num($0.perOutput)), \"task_average\": \(num($0.taskAverage))}" }.joined(separator: ", ")
            s += "]},\n"
        }
        s += "  \"per_task\": [\n"
        s += r.tasks.map { t in
            "    {\"task\": \(str(t.taskId)), \"tests\": \(t.tests.count), \"attempt_1_correct\": \(t.attempt1CorrectCount), \"correct\": \(t.correctCount), \"per_test\": ["
                + t.tests.map { "[\($0.attempt1Correct), \($0.attempt2Correct)]" }.joined(separator: ", ") + "]}"
        }.joined(separator: ",\n")
        s += "\n  ]\n}\n"
        return s
    }
}
