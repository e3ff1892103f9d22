// The candidate table kept after voting (docs/SPEC.md §7) and its file `predictions.jsonl`: one JSON
// object per line and per (task, test input), with the ranked candidates:
//   {"task":"<id>","test_index":0,"undecodable":2,"candidates":[{"grid":[[...]],"votes":5,"mean_q":0.93},...]}
// `score` and the HTML report read it back to compute pass@K (K = 1, 2, 5, 10).
import ARCCore
import Foundation

public struct CandidateTable: Sendable, Equatable {
    /// One entry per test input, in file order.
    public private(set) var entries: [RankedCandidates]
    private var index: [TestInputKey: Int]

    /// Builds a table; a repeated key keeps the last entry in the position of the first.
    public init(_ entries: [RankedCandidates]) {
        self.entries = []
        self.index = [:]
        for e in entries {
            if let i = index[e.key] { self.entries[i] = e } else {
                index[e.key] = self.entries.count
                self.entries.append(e)
            }
        }
    }

    public subscript(key: TestInputKey) -> RankedCandidates? { index[key].map { entries[$0] } }
    public subscript(task: String, testIndex: Int) -> RankedCandidates? { self[TestInputKey(task: task, testIndex: testIndex)] }

    public var candidateCount: Int { entries.reduce(0) { $0 + $1.candidates.count } }

    /// The largest vote or undecodable count `decode` accepts: far above any real evaluation (one
    /// vote per augmented prediction, at most 10001 per test input with --num-aug 10000), and small
    /// enough that sums over a file's counts stay far from Int.max.
    public static let maximumCount = 1_000_000_000

    // MARK: predictions.jsonl

    /// The JSONL text (one line per entry, in order).
    public func jsonlText() -> String {
        var s = ""
        for e in entries {
            s += "{\"task\":" + CandidateTable.jsonString(e.key.task) + ",\"test_index\":\(e.key.testIndex),\"undecodable\":\(e.undecodable),\"candidates\":["
            for (c, cand) in e.candidates.enumerated() {
                if c > 0 { s += "," }
                let q = cand.meanQ.isFinite ? cand.meanQ : 0
                s += "{\"grid\":" + cand.grid.jsonText + ",\"votes\":\(cand.votes),\"mean_q\":\(q)}"
            }
            s += "]}\n"
        }
        return s
    }

    /// Writes `predictions.jsonl` atomically.
    public func write(to url: URL) throws {
        try AtomicFile.write(jsonlText(), to: url)
    }

    /// Reads a `predictions.jsonl` file (see `decode`).
    public static func load(from url: URL) throws -> CandidateTable {
        let data: Data
        do { data = try InputFile.read(url) } catch {
            throw ARCDataError(file: url.path, message: "\(error)")
        }
        return try decode(data, file: url.path)
    }

    /// Strictly parses JSONL text; blank lines are skipped. Errors name the file, line, task and field.
    public static func decode(_ data: Data, file: String) throws -> CandidateTable {
        var entries = [RankedCandidates]()
        var seen = Set<TestInputKey>()
        let lines = data.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        for (n, lineBytes) in lines.enumerated() {
            let lineNumber = n + 1
            if lineBytes.allSatisfy({ $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }) { continue }
            func fail(_ task: String?, _ field: String?, _ message: String) -> ARCDataError {
                ARCDataError(file: "\(file):\(lineNumber)", task: task, field: field, message: message)
            }
            let json: JSONValue
            do { json = try JSONParser.parse(Data(lineBytes)) } catch let e as JSONParseError {
                throw fail(nil, nil, e.description)
            }
            guard case .object = json else { throw fail(nil, nil, "line is \(json.kindName), expected an object") }
            guard case let .string(task)? = json["task"] else { throw fail(nil, "task", "missing or not a string") }
            guard case let .int(testIndex)? = json["test_index"], testIndex >= 0 else {
                throw fail(task, "test_index", "missing or not a non-negative integer")
            }
            var undecodable = 0
            if let u = json["undecodable"] {
                guard case let .int(v) = u, v >= 0 else { throw fail(task, "undecodable", "is \(u.kindName), expected a non-negative integer") }
                guard v <= maximumCount else { throw fail(task, "undecodable", "is \(v), expected 0...\(maximumCount)") }
                undecodable = v
            }
            guard case let .array(items)? = json["candidates"] else { throw fail(task, "candidates", "missing or not an array") }
            var candidates = [Candidate]()
            for (c, item) in items.enumerated() {
                let here = "candidates[\(c)]"
                guard case .object = item else { throw fail(task, here, "is \(item.kindName), expected an object") }
                guard let gridValue = item["grid"] else { throw fail(task, here, "missing \"grid\"") }
                let grid: Grid
                do { grid = try Grid(json: gridValue) } catch { throw fail(task, "\(here).grid", error.description) }
                guard case let .int(votes)? = item["votes"], votes >= 1 else {
                    throw fail(task, "\(here).votes", "missing or not a positive integer")
                }
                guard votes <= maximumCount else { throw fail(task, "\(here).votes", "is \(votes), expected 1...\(maximumCount)") }
                let meanQ: Double
                switch item["mean_q"] {
                case let .double(d)?: meanQ = d
                case let .int(i)?: meanQ = Double(i)
                default: throw fail(task, "\(here).mean_q", "missing or not a number")
                }
                guard (0...1).contains(meanQ) else { throw fail(task, "\(here).mean_q", "is \(meanQ), expected 0...1") }
                candidates.append(Candidate(grid: grid, votes: votes, meanQ: meanQ))
            }
            let key = TestInputKey(task: task, testIndex: testIndex)
            if !seen.insert(key).inserted { throw fail(task, "test_index", "duplicate entry for test \(testIndex)") }
            entries.append(RankedCandidates(key: key, candidates: candidates, undecodable: undecodable))
        }
        return CandidateTable(entries)
    }

    static func jsonString(_ s: String) -> String { JSONWriter.quoted(s) }

    // MARK: pass@K

    /// pass@K for each K: a test output counts if one of the first K ranked candidates equals it.
    /// Test inputs of `solutions` without an entry count as wrong (reported in `missingEntries`); an
    /// entry for a task or test index not in `solutions` is an error (`file` names the table).
    public func passAtK(solutions: SolutionSet, ks: [Int] = [1, 2, 5, 10], file: String = "predictions.jsonl") throws -> PassAtKReport {
        for e in entries {
            guard let outs = solutions.outputs[e.key.task] else {
                throw ARCDataError(file: file, task: e.key.task, message: "candidates for a task that is not in \(solutions.source)")
            }
            if e.key.testIndex >= outs.count {
                throw ARCDataError(file: file, task: e.key.task, field: "test_index",
                                   message: "is \(e.key.testIndex) but the task has \(outs.count) test outputs")
            }
        }
        var correct = [Int](repeating: 0, count: ks.count)
        var taskSum = [Double](repeating: 0, count: ks.count)
        var missing = 0
        var total = 0
        for id in solutions.taskIds {
            let outs = solutions.outputs[id]!
            var taskCorrect = [Int](repeating: 0, count: ks.count)
            for (k, truth) in outs.enumerated() {
                total += 1
                guard let e = self[id, k] else { missing += 1; continue }
                let rank = e.candidates.firstIndex { $0.grid == truth }
                for (i, K) in ks.enumerated() where rank.map({ $0 < K }) ?? false { taskCorrect[i] += 1 }
            }
            for i in ks.indices {
                correct[i] += taskCorrect[i]
                taskSum[i] += outs.isEmpty ? 0 : Double(taskCorrect[i]) / Double(outs.count)
            }
        }
        let taskCount = solutions.taskIds.count
        let results = ks.indices.map { i in
            PassAtK(k: ks[i], correctOutputs: correct[i], testOutputs: total,
                    perOutput: total == 0 ? 0 : Double(correct[i]) / Double(total),
                    taskAverage: taskCount == 0 ? 0 : taskSum[i] / Double(taskCount))
        }
        return PassAtKReport(results: results, missingEntries: missing)
    }
}

/// pass@K from a candidate table.
public struct PassAtK: Sendable, Equatable {
    public var k: Int
    public var correctOutputs: Int
    public var testOutputs: Int
    /// Correct test outputs / all test outputs (Kaggle normalization).
    public var perOutput: Double
    /// Averaged per task, then over tasks (reference evaluators' normalization).
    public var taskAverage: Double
    public init(k: Int, correctOutputs: Int, testOutputs: Int, perOutput: Double, taskAverage: Double) {
        self.k = k
        self.correctOutputs = correctOutputs
        self.testOutputs = testOutputs
        self.perOutput = perOutput
        self.taskAverage = taskAverage
    }
}

public struct PassAtKReport: Sendable, Equatable {
    public var results: [PassAtK]
    /// Test outputs of the solutions with no line in the table (counted as wrong).
    public var missingEntries: Int
    public init(results: [PassAtK], missingEntries: Int) {
        self.results = results
        self.missingEntries = missingEntries
    }
}
