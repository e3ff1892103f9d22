// The Kaggle ARC Prize submission (docs/SPEC.md §7): `{task_id: [{"attempt_1": grid, "attempt_2": grid}, ...]}`,
// one entry per test input in order, every task of the challenges file present, every grid valid.
// Holds the model, its JSON writer (task order of the challenges file, atomic write after validation),
// a strict decoder, and the validator shared by the writer and `arc-pipeline score`.
import Foundation

/// The two attempts for one test input.
public struct Attempts: Hashable, Sendable {
    public var attempt1: Grid
    public var attempt2: Grid
    public init(attempt1: Grid, attempt2: Grid) {
        self.attempt1 = attempt1
        self.attempt2 = attempt2
    }
}

/// What a submission must contain: the task ids in order and the number of test inputs of each.
/// Built from a challenges `TaskSet` or from a `SolutionSet`.
public struct SubmissionExpectation: Sendable, Equatable {
    public var taskIds: [String]
    public var testCounts: [String: Int]
    /// Where the expectation comes from (a file name), used in error messages: "task not in <source>".
    public var source: String

    public init(taskIds: [String], testCounts: [String: Int], source: String) {
        self.taskIds = taskIds
        self.testCounts = testCounts
        self.source = source
    }

    public init(challenges: TaskSet, source: String? = nil) {
        self.taskIds = challenges.tasks.map(\.id)
        self.testCounts = Dictionary(challenges.tasks.map { ($0.id, $0.test.count) }, uniquingKeysWith: { a, _ in a })
        self.source = source ?? challenges.name
    }

    public var testInputCount: Int { taskIds.reduce(0) { $0 + (testCounts[$1] ?? 0) } }
}

/// An ordered map task id -> attempts (one per test input, in test order).
public struct Submission: Sendable, Equatable {
    /// Task ids in insertion (file) order.
    public private(set) var taskIds: [String] = []
    private var attemptsByTask: [String: [Attempts]] = [:]

    public init() {}

    /// Builds a submission from (task id, attempts) in order. A repeated task id replaces the earlier entry.
    public init(_ entries: [(String, [Attempts])]) {
        for (id, attempts) in entries { self[id] = attempts }
    }

    public var taskCount: Int { taskIds.count }

    /// The attempts of `taskId`; setting appends a new task at the end, setting nil removes it.
    public subscript(taskId: String) -> [Attempts]? {
        get { attemptsByTask[taskId] }
        set {
            if let newValue {
                if attemptsByTask.updateValue(newValue, forKey: taskId) == nil { taskIds.append(taskId) }
            } else if attemptsByTask.removeValue(forKey: taskId) != nil {
                taskIds.removeAll { $0 == taskId }
            }
        }
    }

    // MARK: Validation (shared by the writer and the scorer)

    /// Checks a grid against docs/SPEC.md §1 (1..30 x 1..30, cells 0..9). Grids decoded from JSON already
    /// satisfy it; grids built in code with `Grid(rows:cols:cells:)` may not.
    public static func gridProblem(_ grid: Grid) -> GridProblem? {
        if grid.rows < 1 || grid.cols < 1 { return .empty }
        if grid.rows > Grid.maxSide { return .tooManyRows(grid.rows) }
        if grid.cols > Grid.maxSide { return .tooManyColumns(grid.cols) }
        if let k = grid.cells.firstIndex(where: { $0 > 9 }) {
            return .badCell(row: k / grid.cols, col: k % grid.cols, value: "\(grid.cells[k])")
        }
        return nil
    }

    /// Throws the first problem: a task of `expected` missing, a task not in `expected`, an entry count
    /// different from the task's test inputs, or an invalid grid. Errors name `file`, the task, the entry
    /// index and the field (`[1].attempt_2`).
    public func validate(against expected: SubmissionExpectation, file: String) throws {
        for id in taskIds where expected.testCounts[id] == nil {
            throw ARCDataError(file: file, task: id, message: "task is not in \(expected.source) (unknown or extra task)")
        }
        for id in expected.taskIds {
            guard let attempts = attemptsByTask[id] else {
                throw ARCDataError(file: file, task: id, message: "task of \(expected.source) is missing from the submission")
            }
            let want = expected.testCounts[id] ?? 0
            if attempts.count != want {
                throw ARCDataError(file: file, task: id,
                                   message: "has \(attempts.count) entries but the task has \(want) test input\(want == 1 ? "" : "s") (one entry per test input, in order)")
            }
            for (k, a) in attempts.enumerated() {
                if let p = Submission.gridProblem(a.attempt1) {
                    throw ARCDataError(file: file, task: id, field: "[\(k)].attempt_1", message: p.description)
                }
                if let p = Submission.gridProblem(a.attempt2) {
                    throw ARCDataError(file: file, task: id, field: "[\(k)].attempt_2", message: p.description)
                }
            }
        }
    }

    // MARK: Encoding

    /// Compact Kaggle JSON. Tasks are written in `order` (default: the submission's own order); ids of
    /// the submission not in `order` follow in the submission's order.
    public func jsonText(order: [String]? = nil) -> String {
        var ids = [String]()
        var written = Set<String>()
        for id in (order ?? []) + taskIds where attemptsByTask[id] != nil && written.insert(id).inserted { ids.append(id) }
        var s = "{"
        for (t, id) in ids.enumerated() {
            if t > 0 { s += ",\n" }
            s += Submission.jsonString(id) + ":["
            for (k, a) in attemptsByTask[id]!.enumerated() {
                if k > 0 { s += "," }
                s += "{\"attempt_1\":" + a.attempt1.jsonText + ",\"attempt_2\":" + a.attempt2.jsonText + "}"
            }
            s += "]"
        }
        return s + "}\n"
    }

    /// Validates against `expected`, then writes atomically in the expectation's task order.
    public func write(to url: URL, validatingAgainst expected: SubmissionExpectation) throws {
        try validate(against: expected, file: url.path)
        try AtomicFile.write(jsonText(order: expected.taskIds), to: url)
    }

    static func jsonString(_ s: String) -> String { JSONWriter.quoted(s) }

    // MARK: Decoding

    /// Strictly decodes Kaggle submission JSON: an object of task id -> array of entries, each entry an
    /// object with exactly `attempt_1` and `attempt_2`, each a valid grid; no duplicate task ids.
    /// With `expected`, also validates tasks and entry counts (see `validate`).
    public static func decode(_ data: Data, file: String, expected: SubmissionExpectation? = nil) throws -> Submission {
        let json: JSONValue
        do { json = try JSONParser.parse(data) } catch let e as JSONParseError {
            throw TaskLoader.dataError(e, file: file, task: nil)
        }
        guard case let .object(members) = json else {
            throw ARCDataError(file: file, message: "is \(json.kindName), expected an object {task_id: [{\"attempt_1\": grid, \"attempt_2\": grid}, ...]}")
        }
        var submission = Submission()
        for (id, value) in members {
            if submission[id] != nil { throw ARCDataError(file: file, task: id, message: "duplicate task id") }
            if let expected, expected.testCounts[id] == nil {
                throw ARCDataError(file: file, task: id, message: "task is not in \(expected.source) (unknown or extra task)")
            }
            guard case let .array(entries) = value else {
                throw ARCDataError(file: file, task: id, message: "is \(value.kindName), expected an array with one {\"attempt_1\", \"attempt_2\"} object per test input")
            }
            var attempts = [Attempts]()
            for (k, entry) in entries.enumerated() {
                guard case let .object(fields) = entry else {
                    throw ARCDataError(file: file, task: id, field: "[\(k)]", message: "is \(entry.kindName), expected an object {\"attempt_1\": grid, \"attempt_2\": grid}")
                }
                for (key, _) in fields where key != "attempt_1" && key != "attempt_2" {
                    throw ARCDataError(file: file, task: id, field: "[\(k)].\(key)", message: "unexpected key (only attempt_1 and attempt_2 are allowed)")
                }
                func grid(_ key: String) throws -> Grid {
                    let matching = fields.filter { $0.0 == key }
                    guard let value = matching.first?.1 else {
                        throw ARCDataError(file: file, task: id, field: "[\(k)]", message: "missing \"\(key)\"")
                    }
                    if matching.count > 1 {
                        throw ARCDataError(file: file, task: id, field: "[\(k)].\(key)", message: "duplicate key")
                    }
                    do { return try Grid(json: value) } catch {
                        throw ARCDataError(file: file, task: id, field: "[\(k)].\(key)", message: error.description)
                    }
                }
                attempts.append(Attempts(attempt1: try grid("attempt_1"), attempt2: try grid("attempt_2")))
            }
            submission[id] = attempts
        }
        if let expected { try submission.validate(against: expected, file: file) }
        return submission
    }

    /// Reads and decodes a submission file (see `decode`).
    public static func load(from url: URL, expected: SubmissionExpectation? = nil) throws -> Submission {
        let data: Data
        do { data = try InputFile.read(url) } catch {
            throw ARCDataError(file: url.path, message: "\(error)")
        }
        return try decode(data, file: url.path, expected: expected)
    }
}
