// The dataset builder (docs/SPEC.md §2-3, docs/DESIGN.md "Formats"): task sets in roles -> the
// reference's on-disk layout, streamed to disk with bounded memory.
//
//   <out>/train/dataset.json, <out>/train/all__{inputs,labels,puzzle_identifiers,puzzle_indices,group_indices}.npy
//   <out>/test/...  (only when some evaluation-role task has test pairs)
//   <out>/identifiers.json   ["<blank>", name of identifier 1, ...]
//   <out>/test_puzzles.json  {task: {"train": [...], "test": [...]}} for evaluation-role tasks
//   <out>/build_info.json    the options and counts of this build (not in the reference)
//
// Arrays: inputs/labels uint8 [examples, canvas^2] (tokens as in SequenceCodec); puzzle_identifiers
// int32 [puzzles]; puzzle_indices int32 [puzzles + 1] and group_indices int32 [groups + 1], prefix
// offsets starting at 0 (puzzle p owns examples puzzle_indices[p]..<puzzle_indices[p+1], group g owns
// puzzles group_indices[g]..<group_indices[g+1]). dataset.json holds the reference's fields
// (pad_id 0, ignore_label_id 0, blank_identifier_id 0, vocab_size 12, seq_len, num_puzzle_identifiers,
// total_groups, mean_puzzle_examples, sets ["all"]) plus total_puzzles (newer reference versions).
//
// Per task (sets in the order given, training-role sets first, tasks sorted by id): one group =
// the original puzzle + up to numAug augmentations (AugmentationPlanner over all of the task's
// pairs, train and test); every puzzle gets the next identifier (0 is blank), the same one in both
// splits. Train split: the task's train-split pairs (training role: train + test pairs; evaluation
// role: demonstrations) with translation for all but one random pair per puzzle; test split
// (evaluation role): the test pairs at (0, 0). Unknown test outputs are encoded as all-PAD labels
// (ignored by the loss) and left out of test_puzzles.json. A training-role task whose id is taken
// (by an evaluation-role task or an earlier set) is renamed `<id>-<set label>`; tasks with a grid
// side above the canvas are left out and listed.
//
// Bucket mode (options.canvasBuckets, docs/DESIGN.md "Canvas buckets"): each task goes to the
// smallest listed side s >= CanvasBuckets.need(task); its groups live in the set `c<s>` of each
// split (`<split>/c<s>__*.npy`, rows of s*s tokens: the top-left s x s crop of the 30 x 30
// encoding; train-split translations keep the EOS border inside the bucket); dataset.json has
// seq_len 900, sets ["c8", ...] ascending and canvas_sides {"c8": 8, ...}; identifiers stay
// global; build_info.json adds canvas_buckets, tasks_per_bucket and test_outputs_not_fitting
// (evaluation labels larger than their predicted bucket, kept cropped; they cannot be solved).
//
// Determinism: a task's randomness is one Xoshiro256** stream derived from (seed, task name) --
// augmentation draws, then train-split translations in puzzle order -- so its bytes depend neither
// on filters, nor on the thread that ran it, nor on how its group is chunked. Threads compute
// tasks (at most `window` ahead) and hand each group over in ~4 MB chunks; one writer appends them
// in task order, so memory is bounded whatever numAug is.
import ARCCore
import Foundation

public struct DatasetBuildOptions: Sendable {
    /// Augmentations per task [1000].
    public var numAug: Int = 1000
    public var seed: UInt64 = 42
    /// Canvas side; tasks with a grid side above it are left out and listed. In bucket mode
    /// (`canvasBuckets` set) token positions are always on the 30 x 30 board and this is ignored.
    public var canvas: Int = SequenceCodec.defaultCanvas
    /// Bucket mode (docs/DESIGN.md "Canvas buckets"): each task goes to the smallest of these sides
    /// (ascending, 2...30) that holds it (CanvasBuckets.need) and is stored in the set `c<side>`
    /// as the top-left side x side crop of its 30 x 30 encoding. nil: one canvas x canvas set "all".
    public var canvasBuckets: [Int]? = nil
    public var threads: Int = 2
    public var retriesFactor: Int = AugmentationPlanner.referenceRetriesFactor
    /// Only these task ids (nil = all).
    public var taskFilter: Set<String>? = nil
    /// At most this many tasks from each set (after `taskFilter`, counting only tasks that fit
    /// the canvas), in sorted id order.
    public var maxTasksPerSet: Int? = nil
    /// Tasks computed ahead of the writer (bounds memory).
    public var window: Int = 4
    /// Target size of the chunks a task's group is handed to the writer in (bounds memory; does
    /// not change the output).
    public var chunkBytes: Int = 4 << 20

    public init() {}
}

public struct DatasetBuildProgress: Sendable {
    public var tasksDone: Int
    public var tasksTotal: Int
    public var puzzles: Int
    public var examples: Int
    public var bytes: Int
}

public struct LeftOutTask: Sendable, Equatable {
    public var set: String
    public var task: String
    public var reason: String
}

public struct SplitSummary: Sendable {
    public var name: String
    public var groups = 0
    public var puzzles = 0
    public var examples = 0
    public var bytes = 0
}

public struct DatasetBuildSummary: Sendable {
    public var output: URL
    public var tasks = 0
    public var splits: [SplitSummary] = []
    /// num_puzzle_identifiers: distinct puzzles + 1 (the blank).
    public var identifiers = 0
    public var totalBytes = 0
    public var leftOut: [LeftOutTask] = []
    /// Training-role tasks whose id was already taken, with the name they got.
    public var renamed: [(from: String, to: String)] = []
    /// Training-role tasks (by name in this build) holding a test input of an evaluation-role
    /// task: training on them leaks that task's answer (docs/SPEC.md §3, e.g. ARC-AGI-2 training vs
    /// ARC-AGI-1 evaluation). Reported, not removed.
    public var leaks: [(training: String, evaluation: String)] = []
    /// Tasks whose dedupe kept fewer than numAug augmentations, with the count kept.
    public var shortGroups: [(task: String, augmentations: Int)] = []
    /// Bucket mode: tasks per bucket side (non-empty buckets only).
    public var tasksPerBucket: [Int: Int] = [:]
    /// Bucket mode: evaluation-role test outputs (known labels) larger than their task's bucket;
    /// kept with the label cropped to the bucket, they cannot be solved. (task, test index).
    public var testOutputsNotFitting: [(task: String, test: Int)] = []
    public var seconds = 0.0
}

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

/// A reusable, uninitialised byte buffer (the builder recycles them between tasks so that
/// streaming gigabytes does not mean faulting in gigabytes of fresh pages).
final class ByteBuffer: @unchecked Sendable {
    private(set) var pointer: UnsafeMutablePointer<UInt8>
    private(set) var capacity: Int
    private(set) var count = 0

    init(capacity: Int = 1 << 20) {
        self.capacity = max(capacity, 1)
        pointer = .allocate(capacity: self.capacity)
    }
    deinit { pointer.deallocate() }

    /// Sets the length to `count` bytes (contents unspecified; callers write every byte).
    func resize(_ newCount: Int) {
        if newCount > capacity {
            pointer.deallocate()
            capacity = max(newCount, capacity * 2)
            pointer = .allocate(capacity: capacity)
        }
        count = newCount
    }

    var buffer: UnsafeMutableBufferPointer<UInt8> { UnsafeMutableBufferPointer(start: pointer, count: count) }
    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: pointer, count: count) }
}

/// Consecutive puzzles of one task's group, encoded (four buffers: train inputs/labels, test
/// inputs/labels).
struct EncodedChunk: @unchecked Sendable {
    var puzzles: Int
    var buffers: [ByteBuffer]
}

/// One task in flight between a compute thread and the writer (guarded by Pipeline.condition).
final class TaskOutput: @unchecked Sendable {
    var augmentations: [Augmentation]?
    var chunks: [EncodedChunk] = []
    var finished = false
}

public enum DatasetBuilder {
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

    /// The task's random stream: the augmentation draws first, then the translations of its
    /// train-split puzzles in puzzle order (the test split draws nothing), so how the group is
    /// cut into chunks does not change a byte.
    static func randomStream(_ job: BuildJob, options: DatasetBuildOptions) -> Xoshiro256StarStar {
        Xoshiro256StarStar(seed: options.seed, stream: StableHash.fnv1a64(job.name))
    }

    /// The task's group: the original and its deduplicated augmentations.
    static func group(_ job: BuildJob, options: DatasetBuildOptions, rng: inout Xoshiro256StarStar) -> [Augmentation] {
        AugmentationPlanner.draw(pairs: job.trainPairs + job.testPairs, count: options.numAug,
                                 retriesFactor: options.retriesFactor, using: &rng)
    }

    /// Encodes the puzzles `augmentations` (consecutive members of the group) for both splits
    /// into `buffers` (train inputs, train labels, test inputs, test labels), every byte written.
    static func encode(_ job: BuildJob, augmentations: ArraySlice<Augmentation>, options: DatasetBuildOptions,
                       rng: inout Xoshiro256StarStar, buffers: [ByteBuffer]) {
        let side = job.side, seqLen = side * side, bucketMode = options.canvasBuckets != nil
        let puzzles = augmentations.count
        buffers[0].resize(puzzles * job.trainPairs.count * seqLen)
        buffers[1].resize(puzzles * job.trainPairs.count * seqLen)
        buffers[2].resize(puzzles * job.testPairs.count * seqLen)
        buffers[3].resize(puzzles * job.testPairs.count * seqLen)
        func encodePairs(_ pairs: [Pair], _ aug: Augmentation, translate: Bool, first: Int,
                         _ inputs: UnsafeMutableBufferPointer<UInt8>, _ labels: UnsafeMutableBufferPointer<UInt8>) {
            // One pair per puzzle, chosen at random, stays at (0, 0) (docs/SPEC.md §2).
            let keep = translate && !pairs.isEmpty ? rng.nextInt(below: pairs.count) : 0
            for (k, pair) in pairs.enumerated() {
                var r0 = 0, c0 = 0
                if translate && k != keep {
                    let input = Dihedral.shape(aug.dihedral, rows: pair.input.rows, cols: pair.input.cols)
                    let output = pair.output.map { Dihedral.shape(aug.dihedral, rows: $0.rows, cols: $0.cols) } ?? (rows: 0, cols: 0)
                    let rows = max(input.rows, output.rows), cols = max(input.cols, output.cols)
                    // Bucket mode keeps the EOS row and column inside a bucket below 30 (CanvasBuckets).
                    let range = bucketMode ? CanvasBuckets.translationRange(rows: rows, cols: cols, side: side)
                                           : SequenceCodec.maximumOffsets(rows: rows, cols: cols, canvas: side)
                    r0 = rng.nextInt(in: 0...max(0, range.row))
                    c0 = rng.nextInt(in: 0...max(0, range.col))
                }
                let slot = (first + k) * seqLen
                // The grid fits (the plan checked it) except an evaluation label larger than its
                // bucket, which is cropped to the bucket (CanvasBuckets.encode).
                CanvasBuckets.encode(tokens: UnsafeMutableBufferPointer(rebasing: inputs[slot..<(slot + seqLen)]),
                                     grid: pair.input, augmentation: aug, side: side, rowOffset: r0, colOffset: c0)
                let label = UnsafeMutableBufferPointer(rebasing: labels[slot..<(slot + seqLen)])
                if let output = pair.output {
                    CanvasBuckets.encode(tokens: label, grid: output, augmentation: aug, side: side, rowOffset: r0, colOffset: c0)
                } else {
                    label.update(repeating: SequenceCodec.padToken)  // unknown output: all PAD, ignored by the loss
                }
            }
        }
        for (p, aug) in augmentations.enumerated() {
            encodePairs(job.trainPairs, aug, translate: true, first: p * job.trainPairs.count, buffers[0].buffer, buffers[1].buffer)
            encodePairs(job.testPairs, aug, translate: false, first: p * job.testPairs.count, buffers[2].buffer, buffers[3].buffer)
        }
    }

    /// Builds the dataset into `output`, which must be missing, an empty folder or a dataset this
    /// program built (OutputFolder, checked before any work): built in a staging folder beside it
    /// and swapped in whole at the end (StagingFolder), so a failure or an interruption leaves the
    /// previous output as it was and no partial folder. `interruption` is checked between pieces
    /// of work (when it is set, `Interrupted` is thrown). `progress` is called from the writing
    /// thread after each task.
    public static func build(inputs: [RoledTaskSet], options: DatasetBuildOptions, output: URL, interruption: Interruption? = nil,
                             progress: ((DatasetBuildProgress) -> Void)? = nil) throws -> DatasetBuildSummary {
        let started = Date()
        precondition(options.numAug >= 0 && options.canvas >= 1 && options.canvas <= 255 && options.threads >= 1)
        if let buckets = options.canvasBuckets {
            do { try CanvasBuckets.validate(buckets) } catch {
                throw ARCDataError(file: output.path, message: "canvas buckets \(buckets): \(error)")
            }
        }
        try OutputFolder.check(output, kind: .dataset, replacesWhole: true)
        let (jobs, leftOut, renamed) = try plan(inputs: inputs, options: options)
        if jobs.isEmpty { throw ARCDataError(file: output.path, message: "no tasks to build (check the sources and filters)") }
        var summary = DatasetBuildSummary(output: output)
        summary.tasks = jobs.count
        summary.leftOut = leftOut
        summary.renamed = renamed
        summary.leaks = leaks(jobs)
        if options.canvasBuckets != nil {
            for job in jobs { summary.tasksPerBucket[job.side, default: 0] += 1 }
            summary.testOutputsNotFitting = testOutputsNotFitting(jobs)
        }

        try interruption?.check()
        let staging = try StagingFolder(for: output, kind: .dataset)
        do {
            try write(jobs: jobs, options: options, into: staging.url, summary: &summary, inputs: inputs,
                      interruption: interruption, progress: progress)
            try interruption?.check()
            try staging.publish()
        } catch {
            staging.discard()
            if error is ARCDataError || error is NpyError || error is Interrupted { throw error }
            throw ARCDataError(file: output.path, message: "cannot be written: \(OutputFolder.describe(error))")
        }
        summary.seconds = Date().timeIntervalSince(started)
        return summary
    }

    /// A JSON text file written in pieces (then fsynced).
    final class TextStream {
        let handle: FileHandle
        let url: URL
        var pending = ""
        var bytes = 0
        init(url: URL) throws {
            self.url = url
            guard FileManager.default.createFile(atPath: url.path, contents: nil) else {
                throw NpyError(file: url.path, message: "cannot create")
            }
            handle = try FileHandle(forWritingTo: url)
        }
        func write(_ text: String) throws {
            pending += text
            if pending.utf8.count > 1 << 20 { try flush() }
        }
        func flush() throws {
            let data = Data(pending.utf8)
            try handle.write(contentsOf: data)
            bytes += data.count
            pending = ""
        }
        func finish() throws -> Int {
            try flush()
            try handle.synchronize()
            try handle.close()
            return bytes
        }
    }

    static func jsonString(_ s: String) -> String { JSONWriter.quoted(s) }

    static func taskJSON(_ task: ARCTask) -> String {
        func pairs(_ ps: [Pair]) -> String {
            "[" + ps.map { p in
                "{\"input\": \(p.input.jsonText)" + (p.output.map { ", \"output\": \($0.jsonText)" } ?? "") + "}"
            }.joined(separator: ", ") + "]"
        }
        return "{\"train\": \(pairs(task.train)), \"test\": \(pairs(task.test))}"
    }

    /// Shared state between the compute threads and the writer.
    final class Pipeline: @unchecked Sendable {
        let condition = NSCondition()
        var nextToClaim = 0
        var nextToWrite = 0
        var outputs = [Int: TaskOutput]()
        var stopped = false
        /// Recycled buffer quadruples.
        var pool = [[ByteBuffer]]()
    }

    static func write(jobs: [BuildJob], options: DatasetBuildOptions, into directory: URL, summary: inout DatasetBuildSummary,
                      inputs: [RoledTaskSet], interruption: Interruption?, progress: ((DatasetBuildProgress) -> Void)?) throws {
        // Bucket mode: token positions on the 30 x 30 board (seq_len 900), each set s x s tokens.
        let bucketMode = options.canvasBuckets != nil
        let canvas = bucketMode ? CanvasBuckets.board : options.canvas
        let seqLen = canvas * canvas
        let train = try SplitWriter(directory: directory, name: "train", canvas: canvas, bucketMode: bucketMode)
        let hasTest = jobs.contains { !$0.testPairs.isEmpty }
        let test = hasTest ? try SplitWriter(directory: directory, name: "test", canvas: canvas, bucketMode: bucketMode) : nil
        let identifiers = try TextStream(url: directory.appendingPathComponent("identifiers.json"))
        let testPuzzles = try TextStream(url: directory.appendingPathComponent("test_puzzles.json"))
        try identifiers.write("[\"<blank>\"")
        try testPuzzles.write("{")
        var nextIdentifier = 1
        var firstTestPuzzle = true

        // Threads claim tasks in order (at most `window` ahead of the writer) and hand over each
        // task's group in chunks of about `chunkBytes`, at most `maxPendingChunks` waiting per
        // task: memory stays bounded whatever numAug is, and the writer keeps task order.
        let pipeline = Pipeline()
        let window = max(options.window, options.threads)
        let chunkBytes = max(1, options.chunkBytes), maxPendingChunks = 3
        let group = DispatchGroup()
        for _ in 0..<options.threads {
            // Plain threads, not the global dispatch pool: the writer blocks the calling thread,
            // which may itself be a pool thread.
            group.enter()
            Thread {
                defer { group.leave() }
                while true {
                    pipeline.condition.lock()
                    while !pipeline.stopped && pipeline.nextToClaim < jobs.count && pipeline.nextToClaim - pipeline.nextToWrite >= window {
                        pipeline.condition.wait()
                    }
                    if pipeline.stopped || pipeline.nextToClaim >= jobs.count {
                        pipeline.condition.unlock()
                        return
                    }
                    let job = jobs[pipeline.nextToClaim]
                    pipeline.nextToClaim += 1
                    let output = TaskOutput()
                    pipeline.outputs[job.index] = output
                    pipeline.condition.unlock()

                    var rng = randomStream(job, options: options)
                    let augmentations = DatasetBuilder.group(job, options: options, rng: &rng)
                    pipeline.condition.lock()
                    output.augmentations = augmentations
                    pipeline.condition.broadcast()
                    pipeline.condition.unlock()

                    let bytesPerPuzzle = max(1, 2 * job.side * job.side * (job.trainPairs.count + job.testPairs.count))
                    let puzzlesPerChunk = max(1, chunkBytes / bytesPerPuzzle)
                    var start = 0
                    while start < augmentations.count {
                        let end = min(start + puzzlesPerChunk, augmentations.count)
                        pipeline.condition.lock()
                        while !pipeline.stopped && output.chunks.count >= maxPendingChunks { pipeline.condition.wait() }
                        if pipeline.stopped {
                            pipeline.condition.unlock()
                            return
                        }
                        let buffers = pipeline.pool.popLast() ?? (0..<4).map { _ in ByteBuffer() }
                        pipeline.condition.unlock()
                        encode(job, augmentations: augmentations[start..<end], options: options, rng: &rng, buffers: buffers)
                        pipeline.condition.lock()
                        output.chunks.append(EncodedChunk(puzzles: end - start, buffers: buffers))
                        pipeline.condition.broadcast()
                        pipeline.condition.unlock()
                        start = end
                    }
                    pipeline.condition.lock()
                    output.finished = true
                    pipeline.condition.broadcast()
                    pipeline.condition.unlock()
                }
            }.start()
        }
        defer {
            pipeline.condition.lock()
            pipeline.stopped = true
            pipeline.condition.broadcast()
            pipeline.condition.unlock()
            group.wait()
        }

        for job in jobs {
            pipeline.condition.lock()
            while pipeline.outputs[job.index]?.augmentations == nil { pipeline.condition.wait() }
            let output = pipeline.outputs[job.index]!
            let augmentations = output.augmentations!
            pipeline.condition.unlock()

            let puzzles = augmentations.count
            if puzzles < options.numAug + 1 { summary.shortGroups.append((job.name, puzzles - 1)) }
            var names = ""
            for aug in augmentations { names += ", " + jsonString(aug.puzzleName(task: job.name)) }
            try identifiers.write(names)

            var written = 0
            while true {
                pipeline.condition.lock()
                while output.chunks.isEmpty && !output.finished { pipeline.condition.wait() }
                if output.chunks.isEmpty {
                    pipeline.condition.unlock()
                    break
                }
                let chunk = output.chunks.removeFirst()
                pipeline.condition.broadcast()
                pipeline.condition.unlock()
                try interruption?.check()
                try train.appendPuzzles(side: job.side, inputBytes: chunk.buffers[0].bytes, labelBytes: chunk.buffers[1].bytes,
                                        firstIdentifier: nextIdentifier + written, puzzles: chunk.puzzles, perPuzzle: job.trainPairs.count)
                try test?.appendPuzzles(side: job.side, inputBytes: chunk.buffers[2].bytes, labelBytes: chunk.buffers[3].bytes,
                                        firstIdentifier: nextIdentifier + written, puzzles: chunk.puzzles, perPuzzle: job.testPairs.count)
                written += chunk.puzzles
                pipeline.condition.lock()
                pipeline.pool.append(chunk.buffers)
                pipeline.condition.unlock()
            }
            precondition(written == puzzles, "task \(job.name): wrote \(written) of \(puzzles) puzzles")
            try train.endGroup(side: job.side, perPuzzle: job.trainPairs.count)
            try test?.endGroup(side: job.side, perPuzzle: job.testPairs.count)
            nextIdentifier += puzzles

            pipeline.condition.lock()
            pipeline.outputs[job.index] = nil
            pipeline.nextToWrite = job.index + 1
            pipeline.condition.broadcast()
            pipeline.condition.unlock()

            if job.isEvaluation {
                try testPuzzles.write((firstTestPuzzle ? "" : ", ") + jsonString(job.name) + ": " + taskJSON(job.original))
                firstTestPuzzle = false
            }
            if let progress {
                let bytes = train.bytesSoFar + (test?.bytesSoFar ?? 0)
                progress(DatasetBuildProgress(tasksDone: job.index + 1, tasksTotal: jobs.count,
                                              puzzles: train.summary.puzzles, examples: train.summary.examples + (test?.summary.examples ?? 0),
                                              bytes: bytes))
            }
        }
        guard nextIdentifier - 1 <= Int(Int32.max) else { throw NpyError(file: directory.path, message: "more than 2^31 identifiers") }
        try identifiers.write("]")
        try testPuzzles.write("}")
        summary.identifiers = nextIdentifier
        summary.splits.append(try train.finish(numIdentifiers: nextIdentifier, seqLen: seqLen))
        if let test { summary.splits.append(try test.finish(numIdentifiers: nextIdentifier, seqLen: seqLen)) }
        summary.totalBytes = summary.splits.reduce(0) { $0 + $1.bytes }
        summary.totalBytes += try identifiers.finish()
        summary.totalBytes += try testPuzzles.finish()

        // The options and counts, so later stages can tell whether a built dataset is current.
        let trainingNames: [String] = inputs.filter { $0.role == .training }.map { jsonString($0.set.name) }
        let evaluationNames: [String] = inputs.filter { $0.role == .evaluation }.map { jsonString($0.set.name) }
        let filterText: String = options.taskFilter.map { "[" + $0.sorted().map(jsonString).joined(separator: ", ") + "]" } ?? "null"
        let leftOutText: [String] = summary.leftOut.map { "{\"set\": \(jsonString($0.set)), \"task\": \(jsonString($0.task)), \"reason\": \(jsonString($0.reason))}" }
        // Keyed by the new name: unique, while one task id can be renamed in several sets.
        let renamedText: [String] = summary.renamed.map { "\(jsonString($0.to)): \(jsonString($0.from))" }
        var info = "{\"format\": \"hrm-arc\", \"num_aug\": \(options.numAug), \"seed\": \(options.seed), \"canvas\": \(canvas), "
        info += "\"retries_factor\": \(options.retriesFactor), "
        info += "\"training\": [" + trainingNames.joined(separator: ", ") + "], "
        info += "\"evaluation\": [" + evaluationNames.joined(separator: ", ") + "], "
        info += "\"task_filter\": " + filterText + ", "
        info += "\"max_tasks_per_set\": " + (options.maxTasksPerSet.map { String($0) } ?? "null") + ", "
        info += "\"tasks\": \(jobs.count), \"identifiers\": \(nextIdentifier), "
        info += "\"left_out\": [" + leftOutText.joined(separator: ", ") + "], "
        let leakText: [String] = summary.leaks.map { "\(jsonString($0.training)): \(jsonString($0.evaluation))" }
        info += "\"renamed\": {" + renamedText.joined(separator: ", ") + "}, "
        info += "\"leaks\": {" + leakText.joined(separator: ", ") + "}"
        if let buckets = options.canvasBuckets {
            // Bucket mode only (a single-canvas build_info.json stays as it was).
            let perBucket = summary.tasksPerBucket.keys.sorted().map { "\"\(CanvasBuckets.setName(side: $0))\": \(summary.tasksPerBucket[$0]!)" }
            let notFitting = summary.testOutputsNotFitting.map { "{\"task\": \(jsonString($0.task)), \"test\": \($0.test)}" }
            info += ", \"canvas_buckets\": [" + buckets.map { String($0) }.joined(separator: ", ") + "], "
            info += "\"tasks_per_bucket\": {" + perBucket.joined(separator: ", ") + "}, "
            info += "\"test_outputs_not_fitting\": \(summary.testOutputsNotFitting.count), "
            info += "\"test_outputs_not_fitting_list\": [" + notFitting.joined(separator: ", ") + "]"
        }
        info += "}"
        try AtomicFile.write(info + "\n", to: directory.appendingPathComponent("build_info.json"))
    }
}
