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



/// One task in flight between a compute thread and the writer (guarded by Pipeline.condition).
final class TaskOutput: @unchecked Sendable {
    var augmentations: [Augmentation]?
    var chunks: [EncodedChunk] = []
    var finished = false
}

public enum DatasetBuilder {
    /// Builds the dataset into `output`, which must be missing, an empty folder or a dataset this
    /// program built (OutputFolder, checked before any work): built in a staging folder beside it
    /// and swapped in whole at the end (StagingFolder), so a failure or an interruption leaves the
    /// previous output as it was and no partial folder. `interruption` is checked between pieces
    /// of work (when it is set, `Interrupted` is thrown). `progress` is called from the writing
    /// thread after each task.
    public static func build(inputs: [RoledTaskSet], options: DatasetBuildOptions, output: URL, interruption: Interruption? = nil,
                             progress: ((DatasetBuildProgress) -> Void)? = nil) throws -> DatasetBuildSummary {
        let started = Date()
        // The commands' validate() and CanvasChoice bound --num-aug (1...10000), --canvas (1...30) and --threads (1...256).
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
}
