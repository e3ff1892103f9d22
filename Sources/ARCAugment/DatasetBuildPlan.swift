// Planning a dataset build (docs/SPEC.md §3): which tasks go in, in which order and under which
// name, which canvas side each gets (a single canvas, or its bucket: CanvasBuckets), and which are
// left out and why. Part of DatasetBuilder (DatasetBuilder.swift has the overview).
import ARCCore
import Foundation

/// One task's work: its name and the pairs for each split.
struct BuildJob: Sendable {
    var index: Int
    var name: String
    var trainPairs: [Pair]
    var testPairs: [Pair]
    var original: ARCTask
    var isEvaluation: Bool
    /// The canvas side its examples are stored on (the canvas, or its bucket's side).
    var side: Int
}

extension DatasetBuilder {
    /// Picks the tasks (filters, canvas fit, name clashes) in build order.
    static func plan(inputs: [RoledTaskSet], options: DatasetBuildOptions) throws -> (jobs: [BuildJob], leftOut: [LeftOutTask], renamed: [(String, String)]) {
        if let buckets = options.canvasBuckets { try CanvasBuckets.validate(buckets) }
        var jobs = [BuildJob]()
        var leftOut = [LeftOutTask]()
        var renamed = [(String, String)]()
        var taken = Set<String>()
        // Evaluation-role task ids are reserved first: they keep their ids (voting keys on them).
        let ordered = inputs.filter { $0.role == .training } + inputs.filter { $0.role == .evaluation }
        var selected = [(RoledTaskSet, [ARCTask], [Int])]()
        for input in ordered {
            // DatasetInputs.load refuses these naming the file; sets made in code are checked here.
            try DatasetInputs.checkTaskIds(input.set.tasks, file: input.set.name)
            var tasks = input.set.tasks
            if let filter = options.taskFilter { tasks = tasks.filter { filter.contains($0.id) } }
            // Walk in id order, leaving out tasks that do not fit the canvas, until the limit of
            // fitting tasks is reached (so --max-tasks N gives N usable tasks per set).
            var fitting = [ARCTask]()
            var fittingSides = [Int]()
            for task in tasks {
                if let limit = options.maxTasksPerSet, fitting.count >= limit { break }
                switch side(of: task, role: input.role, options: options) {
                case let .failure(reason):
                    leftOut.append(LeftOutTask(set: input.set.name, task: task.id, reason: reason.description))
                case let .success(side):
                    fitting.append(task)
                    fittingSides.append(side)
                }
            }
            tasks = fitting
            selected.append((input, tasks, fittingSides))
            if input.role == .evaluation {
                for t in tasks where !taken.insert(t.id).inserted {
                    throw ARCDataError(file: input.set.name, task: t.id, message: "task id appears in two evaluation sets")
                }
            }
        }
        for (input, tasks, sides) in selected {
            for (task, side) in zip(tasks, sides) {
                var name = task.id
                if input.role == .training {
                    if taken.contains(name) {
                        let suffix = input.set.name.map { $0.isLetter || $0.isNumber ? String($0) : "-" }.joined()
                        name = "\(task.id)-\(suffix)"
                        var k = 2
                        while taken.contains(name) { name = "\(task.id)-\(suffix)-\(k)"; k += 1 }
                        renamed.append((task.id, name))
                    }
                    taken.insert(name)
                    for (k, p) in task.test.enumerated() where p.output == nil {
                        throw ARCDataError(file: input.set.name, task: task.id, field: "test[\(k)].output",
                                           message: "is unknown; a training-role set needs all outputs (use it with --eval instead)")
                    }
                    jobs.append(BuildJob(index: jobs.count, name: name, trainPairs: task.train + task.test, testPairs: [],
                                         original: task, isEvaluation: false, side: side))
                } else {
                    jobs.append(BuildJob(index: jobs.count, name: name, trainPairs: task.train, testPairs: task.test,
                                         original: task, isEvaluation: true, side: side))
                }
            }
        }
        return (jobs, leftOut, renamed)
    }

    /// Training-role jobs that contain an input grid equal to an evaluation-role test input.
    static func leaks(_ jobs: [BuildJob]) -> [(training: String, evaluation: String)] {
        var testInputs = [ContentKey: String]()
        for job in jobs where job.isEvaluation {
            for p in job.testPairs { testInputs[ContentHash.grid(p.input)] = job.name }
        }
        guard !testInputs.isEmpty else { return [] }
        var found = [(training: String, evaluation: String)]()
        for job in jobs where !job.isEvaluation {
            if let hit = job.trainPairs.lazy.compactMap({ testInputs[ContentHash.grid($0.input)] }).first {
                found.append((job.name, hit))
            }
        }
        return found
    }

    /// The side a task's examples are stored on: the canvas (when every grid fits it), or in
    /// bucket mode the smallest bucket side >= CanvasBuckets.need; else why it is left out.
    static func side(of task: ARCTask, role: SetRole, options: DatasetBuildOptions) -> Result<Int, CanvasBucketError> {
        guard let buckets = options.canvasBuckets else {
            if let reason = misfit(task, canvas: options.canvas) { return .failure(CanvasBucketError(reason)) }
            return .success(options.canvas)
        }
        let need = CanvasBuckets.need(task, role: role)
        guard let side = CanvasBuckets.side(need: need, in: buckets) else {
            return .failure(CanvasBucketError("needs a \(need)x\(need) canvas (largest grid side + 1 for the EOS border), larger than the largest bucket \(buckets.last ?? 0)"))
        }
        return .success(side)
    }

    /// Evaluation-role test outputs (known) that do not fit their task's bucket with the EOS
    /// border (side < min(30, largest side + 1)), as (task, test index).
    static func testOutputsNotFitting(_ jobs: [BuildJob]) -> [(task: String, test: Int)] {
        var found = [(task: String, test: Int)]()
        for job in jobs where job.isEvaluation {
            for (k, p) in job.testPairs.enumerated() {
                if let o = p.output, min(CanvasBuckets.board, max(o.rows, o.cols) + 1) > job.side { found.append((job.name, k)) }
            }
        }
        return found
    }

    /// Why a task does not fit the canvas (any side, since dihedral transforms swap them), or nil.
    static func misfit(_ task: ARCTask, canvas: Int) -> String? {
        for (kind, pairs) in [("train", task.train), ("test", task.test)] {
            for (k, p) in pairs.enumerated() {
                for (part, g) in [("input", p.input), ("output", p.output)] {
                    guard let g, max(g.rows, g.cols) > canvas else { continue }
                    return "\(kind)[\(k)].\(part) is \(g.rows)x\(g.cols), larger than the \(canvas)x\(canvas) canvas"
                }
            }
        }
        return nil
    }
}
