// Scoring a submission against known test outputs (docs/SPEC.md §7).
// - Kaggle score: each test output scores 1 if attempt_1 or attempt_2 equals it exactly; the score is
//   the sum over all test outputs divided by their count (this is also pass@2 per test output).
// - Task-average score (the reference evaluators, e.g. the ARC Prize benchmarking harness): the
//   fraction of a task's test outputs solved, averaged over tasks.
// - Tasks fully solved (the HRM repository's arc_eval notebook): a task counts 1 only if every one of
//   its test outputs is solved; fraction of tasks.
// pass@1 uses attempt_1 only. Also: loaders for the ground truth (Kaggle solutions file, a
// challenges file with test outputs, or a folder of per-task files) and for a challenges file.
import Foundation

/// The known test outputs of a set of tasks, in task order.
public struct SolutionSet: Sendable, Equatable {
    public var taskIds: [String]
    public var outputs: [String: [Grid]]
    /// The file or folder the solutions came from (for messages).
    public var source: String

    public init(taskIds: [String], outputs: [String: [Grid]], source: String) {
        self.taskIds = taskIds
        self.outputs = outputs
        self.source = source
    }

    /// The test outputs of `tasks`; every test pair must have an output.
    public init(tasks: TaskSet, source: String? = nil) throws {
        let name = source ?? tasks.name
        var ids = [String]()
        var outs = [String: [Grid]]()
        for task in tasks.tasks {
            var grids = [Grid]()
            for (k, pair) in task.test.enumerated() {
                guard let g = pair.output else {
                    throw ARCDataError(file: name, task: task.id, field: "test[\(k)]", message: "has no output (the solution is not known)")
                }
                grids.append(g)
            }
            ids.append(task.id)
            outs[task.id] = grids
        }
        self.init(taskIds: ids, outputs: outs, source: name)
    }

    public var testOutputCount: Int { outputs.values.reduce(0) { $0 + $1.count } }

    /// What a submission scored against these solutions must contain.
    public var expectation: SubmissionExpectation {
        SubmissionExpectation(taskIds: taskIds, testCounts: outputs.mapValues(\.count), source: (source as NSString).lastPathComponent)
    }

    /// Loads ground truth from
    /// - a Kaggle solutions file `{task_id: [grid, ...]}` (test order),
    /// - a challenges-format file `{task_id: {"train": [...], "test": [{"input", "output"}]}}` with outputs,
    /// - a folder of per-task files `<id>.json` whose test pairs have outputs.
    public static func load(from url: URL) throws -> SolutionSet {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw ARCDataError(file: url.path, message: "no such file or folder")
        }
        if isDir.boolValue {
            let tasks = try TaskLoader.loadDirectory(url, name: url.lastPathComponent)
            if tasks.tasks.isEmpty { throw ARCDataError(file: url.path, message: "folder has no task files (*.json)") }
            return try SolutionSet(tasks: tasks, source: url.path)
        }
        let json = try TaskLoader.readJSON(url)
        guard case let .object(members) = json else {
            throw ARCDataError(file: url.path, message: "is \(json.kindName), expected an object {task_id: [grid, ...]} (Kaggle solutions) or {task_id: task}")
        }
        if members.isEmpty { throw ARCDataError(file: url.path, message: "has no tasks") }
        if case .object = members[0].1 {
            let tasks = try SubmissionScorer.parseChallenges(members, file: url.path, requireTestOutputs: true)
            return try SolutionSet(tasks: TaskSet(name: url.lastPathComponent, tasks: tasks), source: url.path)
        }
        var ids = [String]()
        var outs = [String: [Grid]]()
        for (id, value) in members {
            if outs[id] != nil { throw ARCDataError(file: url.path, task: id, message: "duplicate task id") }
            guard case let .array(items) = value else {
                throw ARCDataError(file: url.path, task: id, message: "is \(value.kindName), expected an array of grids (one per test input)")
            }
            if items.isEmpty { throw ARCDataError(file: url.path, task: id, message: "has no test outputs") }
            var grids = [Grid]()
            for (k, item) in items.enumerated() {
                do { grids.append(try Grid(json: item)) } catch {
                    throw ARCDataError(file: url.path, task: id, field: "[\(k)]", message: error.description)
                }
            }
            ids.append(id)
            outs[id] = grids
        }
        return SolutionSet(taskIds: ids, outputs: outs, source: url.path)
    }

    /// Checks that these solutions cover exactly the tasks of `challenges`, with one output per test input.
    public func check(against challenges: TaskSet) throws {
        for task in challenges.tasks {
            guard let grids = outputs[task.id] else {
                throw ARCDataError(file: source, task: task.id, message: "no solutions for this task of \(challenges.name)")
            }
            if grids.count != task.test.count {
                throw ARCDataError(file: source, task: task.id,
                                   message: "has \(grids.count) solutions but \(challenges.name) has \(task.test.count) test inputs")
            }
        }
        let known = Set(challenges.tasks.map(\.id))
        if let extra = taskIds.first(where: { !known.contains($0) }) {
            throw ARCDataError(file: source, task: extra, message: "solutions for a task that is not in \(challenges.name)")
        }
    }
}

/// The result of one test output.
public struct TestOutputScore: Sendable, Equatable {
    public var testIndex: Int
    public var attempt1Correct: Bool
    public var attempt2Correct: Bool
    public init(testIndex: Int, attempt1Correct: Bool, attempt2Correct: Bool) {
        self.testIndex = testIndex
        self.attempt1Correct = attempt1Correct
        self.attempt2Correct = attempt2Correct
    }
    /// The Kaggle rule: either attempt equals the output exactly.
    public var correct: Bool { attempt1Correct || attempt2Correct }
}

/// The results of one task.
public struct TaskScore: Sendable, Equatable {
    public var taskId: String
    public var tests: [TestOutputScore]
    public init(taskId: String, tests: [TestOutputScore]) {
        self.taskId = taskId
        self.tests = tests
    }
    public var correctCount: Int { tests.filter(\.correct).count }
    public var attempt1CorrectCount: Int { tests.filter(\.attempt1Correct).count }
    /// Fraction of this task's test outputs solved by either attempt.
    public var fraction: Double { tests.isEmpty ? 0 : Double(correctCount) / Double(tests.count) }
    public var fullySolved: Bool { !tests.isEmpty && correctCount == tests.count }
}

/// All metrics of one submission.
public struct ScoreReport: Sendable, Equatable {
    public var tasks: [TaskScore]
    public init(tasks: [TaskScore]) { self.tasks = tasks }

    public var taskCount: Int { tasks.count }
    public var testOutputCount: Int { tasks.reduce(0) { $0 + $1.tests.count } }
    /// Test outputs solved by either attempt.
    public var correctOutputCount: Int { tasks.reduce(0) { $0 + $1.correctCount } }
    /// Test outputs solved by attempt_1.
    public var attempt1CorrectOutputCount: Int { tasks.reduce(0) { $0 + $1.attempt1CorrectCount } }
    public var fullySolvedTaskCount: Int { tasks.filter(\.fullySolved).count }

    /// Kaggle ARC Prize score = pass@2 per test output: correct outputs / all test outputs.
    public var kaggleScore: Double { ratio(correctOutputCount, testOutputCount) }
    /// Reference evaluators' score = pass@2 averaged per task, then over tasks.
    public var taskAverageScore: Double {
        tasks.isEmpty ? 0 : tasks.reduce(0.0) { $0 + $1.fraction } / Double(tasks.count)
    }
    /// pass@1 per test output (attempt_1 only).
    public var pass1: Double { ratio(attempt1CorrectOutputCount, testOutputCount) }
    /// pass@1 averaged per task, then over tasks.
    public var pass1TaskAverage: Double {
        tasks.isEmpty ? 0 : tasks.reduce(0.0) { $0 + ($1.tests.isEmpty ? 0 : Double($1.attempt1CorrectCount) / Double($1.tests.count)) } / Double(tasks.count)
    }
    /// pass@2 per test output (same as the Kaggle score).
    public var pass2: Double { kaggleScore }
    /// Fraction of tasks with every test output solved (the HRM arc_eval notebook's count).
    public var fullySolvedTaskFraction: Double { ratio(fullySolvedTaskCount, taskCount) }

    private func ratio(_ a: Int, _ b: Int) -> Double { b == 0 ? 0 : Double(a) / Double(b) }
}

public enum SubmissionScorer {
    /// Scores `submission` against `solutions`. The submission must contain exactly the solutions'
    /// tasks with one entry per test output (see `Submission.validate`); `file` names it in errors.
    public static func score(_ submission: Submission, solutions: SolutionSet, file: String) throws -> ScoreReport {
        try submission.validate(against: solutions.expectation, file: file)
        var tasks = [TaskScore]()
        for id in solutions.taskIds {
            let truth = solutions.outputs[id]!
            let attempts = submission[id]!
            var tests = [TestOutputScore]()
            for (k, output) in truth.enumerated() {
                tests.append(TestOutputScore(testIndex: k, attempt1Correct: attempts[k].attempt1 == output,
                                             attempt2Correct: attempts[k].attempt2 == output))
            }
            tasks.append(TaskScore(taskId: id, tests: tests))
        }
        return ScoreReport(tasks: tasks)
    }

    /// Loads the tasks of a Kaggle challenges file `{task_id: task}` or of a folder of per-task files.
    public static func loadChallenges(from url: URL) throws -> TaskSet {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw ARCDataError(file: url.path, message: "no such file or folder")
        }
        if isDir.boolValue {
            let set = try TaskLoader.loadDirectory(url, name: url.lastPathComponent)
            if set.tasks.isEmpty { throw ARCDataError(file: url.path, message: "folder has no task files (*.json)") }
            return set
        }
        let json = try TaskLoader.readJSON(url)
        guard case let .object(members) = json else {
            throw ARCDataError(file: url.path, message: "is \(json.kindName), expected an object {task_id: task}")
        }
        if members.isEmpty { throw ARCDataError(file: url.path, message: "has no tasks") }
        return TaskSet(name: url.lastPathComponent, tasks: try parseChallenges(members, file: url.path, requireTestOutputs: false))
    }

    static func parseChallenges(_ members: [(String, JSONValue)], file: String, requireTestOutputs: Bool) throws -> [ARCTask] {
        var seen = Set<String>()
        var tasks = [ARCTask]()
        for (id, value) in members {
            if !seen.insert(id).inserted { throw ARCDataError(file: file, task: id, message: "duplicate task id") }
            tasks.append(try TaskLoader.parseTask(value, id: id, file: file, requireTestOutputs: requireTestOutputs))
        }
        return tasks
    }
}

extension ScoreReport {
    /// The scores of the tasks in `taskIds` only (in this report's order): a dataset built from a subset of
    /// the challenges is judged on the tasks it holds, the rest of the submission being fallbacks.
    public func restricted(to taskIds: Set<String>) -> ScoreReport {
        ScoreReport(tasks: tasks.filter { taskIds.contains($0.taskId) })
    }
}
