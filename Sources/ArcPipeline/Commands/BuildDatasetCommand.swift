// `arc-pipeline build-dataset`: augmented HRM datasets (docs/SPEC.md §2-3) in the reference's
// on-disk layout (docs/DESIGN.md "Formats"); the work is ARCAugment.DatasetBuilder, this file only
// parses options, prints progress and the closing summary.
import ARCAugment
import ARCCore
import ArgumentParser
import Foundation

struct BuildDatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "build-dataset",
        abstract: "Build an augmented HRM dataset (dihedral x colour permutations, one identifier per puzzle).",
        discussion: """
        Reads fetched task sets (see `arc-pipeline fetch`) and writes <out>/{train,test}/all__*.npy, \
        dataset.json, identifiers.json and test_puzzles.json: the layout of the reference HRM builder. \
        Training-role sets put all pairs in the train split; evaluation-role sets put their \
        demonstrations in the train split and their test pairs in the test split.

        Sources: arc-agi-1:training, arc-agi-1:evaluation, arc-agi-2:training, arc-agi-2:evaluation, \
        concept-arc, kaggle:training, kaggle:evaluation, kaggle:test, or a folder path containing '/'.

        Presets: arc1 (ARC-AGI-1 training + ConceptARC; eval ARC-AGI-1 evaluation), arc2 (ARC-AGI-2 \
        training; eval ARC-AGI-2 evaluation), kaggle (Kaggle training; eval the test challenges, labels \
        unknown; add --kaggle-with-evaluation to also train on the evaluation set, which the public \
        test file repeats). --train/--eval replace the preset's lists.

        Examples:
          arc-pipeline build-dataset --preset arc1 --num-aug 1000
          arc-pipeline build-dataset --train arc-agi-1:training,concept-arc --eval arc-agi-1:evaluation
          arc-pipeline build-dataset --preset arc1 --canvas 12 --max-tasks 20 --num-aug 16
          arc-pipeline build-dataset --preset arc2 --canvas auto
        """)

    @Option(help: "Preset: arc1, arc2 or kaggle.")
    var preset: DatasetPresetName?

    @Option(help: "Training-role sources, comma-separated (all pairs to the train split).")
    var train: [String] = []

    @Option(help: "Evaluation-role sources, comma-separated (demonstrations to train, test pairs to test).")
    var eval: [String] = []

    @Flag(help: "kaggle preset: also train on kaggle:evaluation (with its solutions).")
    var kaggleWithEvaluation = false

    @Option(help: "Folder with the fetched sources.")
    var dataDir: String = "arc-data"

    @Option(help: "Output folder (default <data-dir>/built/<name>).")
    var out: String?

    @Option(help: "Dataset name used for the default output folder (default <preset>-aug<N>[-c<canvas>], -cauto, -c10-15-20-30).")
    var name: String?

    @Option(help: "Augmentations per task (the paper uses 1000; 1...10000).")
    var numAug: Int = 1000

    @Option(help: "Random seed (same seed, same bytes; 0...9223372036854775807).")
    var seed: UInt64 = 42

    @Option(help: CanvasChoice.help, transform: { try CanvasChoice.parse($0) })
    var canvas: CanvasChoice = .reference

    @Option(help: "Only these task ids, comma-separated.")
    var tasks: [String] = []

    @Option(help: "At most this many tasks from each set (sorted by id, counting tasks that fit the canvas), for experiments.")
    var maxTasks: Int?

    @Option(help: "Worker threads (default: all cores; 1...256).")
    var threads: Int = RunArguments.defaultThreads

    @Flag(help: "No progress lines.")
    var quiet = false

    func validate() throws {
        try OptionRanges.check("--num-aug", numAug, in: OptionRanges.numAug)
        try OptionRanges.check("--seed", seed, in: OptionRanges.seed)
        try OptionRanges.check("--threads", threads, in: OptionRanges.threads)
        try OptionRanges.check("--max-tasks", maxTasks, in: OptionRanges.maxTasks)
        if preset == nil && train.isEmpty && eval.isEmpty { throw ValidationError("give --preset or --train/--eval sources") }
    }

    func run() throws {
        let presetValue = preset.map { DatasetPreset.preset($0, kaggleWithEvaluation: kaggleWithEvaluation) }
        let trainLabels = train.isEmpty ? (presetValue?.training ?? []) : train
        let evalLabels = eval.isEmpty ? (presetValue?.evaluation ?? []) : eval
        let dataURL = URL(fileURLWithPath: dataDir)
        let datasetName = name ?? "\(preset?.rawValue ?? "custom")-aug\(numAug)\(canvas.nameSuffix)"
        let outURL = out.map { URL(fileURLWithPath: $0) } ?? dataURL.appendingPathComponent("built").appendingPathComponent(datasetName)
        // Before any work: the output is writable, replaces only a dataset this program built, and
        // keeps clear of the inputs.
        try OutputFolder.checkApart(outURL, from: ProtectedInputs.sources(trainLabels + evalLabels, dataDirectory: dataURL))
        try OutputFolder.check(outURL, kind: .dataset, replacesWhole: true)
        let inputs = try DatasetInputs.load(labels: trainLabels, role: .training, dataDirectory: dataURL)
            + DatasetInputs.load(labels: evalLabels, role: .evaluation, dataDirectory: dataURL)
        for input in inputs { log("\(input.role.rawValue): \(input.set.name) (\(input.set.tasks.count) tasks)") }

        var options = DatasetBuildOptions()
        options.numAug = numAug
        options.seed = seed
        canvas.apply(to: &options)
        options.threads = threads
        let taskIds = tasks.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }.filter { !$0.isEmpty }
        options.taskFilter = taskIds.isEmpty ? nil : Set(taskIds)
        options.maxTasksPerSet = maxTasks

        log("building \(outURL.path): \(numAug) augmentations per task, seed \(seed), canvas \(canvas), \(threads) threads")

        var lastPrint = Date.distantPast
        let quiet = self.quiet
        // Ctrl-C / SIGTERM: stop, remove the staging folder, leave the previous output as it was.
        let interruption = Interruption()
        interruption.install(notice: "stopping; the partial dataset is removed and \(outURL.path) stays as it was")
        defer { interruption.uninstall() }
        let summary: DatasetBuildSummary
        do {
            summary = try DatasetBuilder.build(inputs: inputs, options: options, output: outURL, interruption: interruption) { p in
                guard !quiet else { return }
                let now = Date()
                if now.timeIntervalSince(lastPrint) >= 1 || p.tasksDone == p.tasksTotal {
                    lastPrint = now
                    FileHandle.standardError.write(Data("  tasks \(p.tasksDone)/\(p.tasksTotal)  puzzles \(p.puzzles)  examples \(p.examples)  \(megabytes(p.bytes))\n".utf8))
                }
            }
        } catch let stopped as Interrupted {
            FileHandle.standardError.write(Data("\(stopped): the partial dataset was removed; \(outURL.path) is as it was\n".utf8))
            throw ExitCode(130)
        }

        print("built \(summary.output.path) in \(String(format: "%.1f", summary.seconds)) s")
        if !summary.tasksPerBucket.isEmpty {
            print("  canvas buckets: " + summary.tasksPerBucket.keys.sorted().map { "c\($0) \(summary.tasksPerBucket[$0]!) tasks" }.joined(separator: ", "))
        }
        if !summary.testOutputsNotFitting.isEmpty {
            print("  \(summary.testOutputsNotFitting.count) test outputs do not fit their bucket; these cannot be solved: "
                + summary.testOutputsNotFitting.prefix(10).map { "\($0.task) test \($0.test)" }.joined(separator: ", ")
                + (summary.testOutputsNotFitting.count > 10 ? ", ..." : ""))
        }
        print("  tasks \(summary.tasks), identifiers \(summary.identifiers) (with the blank), \(megabytes(summary.totalBytes)) on disk")
        for s in summary.splits {
            print("  \(s.name): \(s.groups) groups, \(s.puzzles) puzzles, \(s.examples) examples, \(megabytes(s.bytes))")
        }
        if !summary.shortGroups.isEmpty {
            let shown = summary.shortGroups.prefix(10).map { "\($0.task) (\($0.augmentations))" }.joined(separator: ", ")
            print("  \(summary.shortGroups.count) tasks have fewer than \(numAug) distinct augmentations: \(shown)\(summary.shortGroups.count > 10 ? ", ..." : "")")
        }
        if !summary.renamed.isEmpty {
            print("  \(summary.renamed.count) training tasks renamed (id already used): "
                + summary.renamed.prefix(10).map { "\($0.from) -> \($0.to)" }.joined(separator: ", ") + (summary.renamed.count > 10 ? ", ..." : ""))
        }
        if !summary.leaks.isEmpty {
            print("  warning: \(summary.leaks.count) training tasks contain a test input of an evaluation task (their answers leak into training): "
                + summary.leaks.prefix(10).map { "\($0.training) ~ \($0.evaluation)" }.joined(separator: ", ") + (summary.leaks.count > 10 ? ", ..." : ""))
        }
        if summary.leftOut.isEmpty {
            print("  tasks left out: none")
        } else {
            print("  tasks left out: \(summary.leftOut.count) (listed in build_info.json)")
            for t in summary.leftOut.prefix(20) { print("    \(t.set) \(t.task): \(t.reason)") }
            if summary.leftOut.count > 20 { print("    ...") }
        }
    }

    func log(_ text: String) { if !quiet { FileHandle.standardError.write(Data((text + "\n").utf8)) } }
}

private func megabytes(_ bytes: Int) -> String { String(format: "%.1f MB", Double(bytes) / 1_000_000) }
