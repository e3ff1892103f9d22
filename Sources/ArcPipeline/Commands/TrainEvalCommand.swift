// `arc-pipeline train-eval`: build-dataset -> train -> evaluate -> vote -> score -> report in one
// command, reusing a built dataset or a trained run whose inputs did not change.
import ARCAugment
import ARCCore
import ARCFetch
import ArgumentParser
import Distributed
import Foundation
import HRM
import Training

struct TrainEvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train-eval",
        abstract: "The whole pipeline: build the augmented dataset, train HRM, predict, vote, write and score submission.json.",
        discussion: """
        Data: the Kaggle layout when fetched (predict the test challenges), else ARC-AGI-2 (predict its evaluation
        tasks). Training is test-time training by default: on the predicted tasks' demonstrations and their
        augmentations only (--train-sets preset adds the preset's training tasks: Kaggle's, or ARC-AGI-2's).
        Defaults are sized for a 2-core CPU: the cpu preset, 4 augmentations, size-bucketed canvases
        (--canvas auto), and 8 minutes for the whole job. --time-budget is the whole job's time here: training
        gets what is left after the dataset and the evaluation, whose time is measured on the model before
        training and reserved, so the submission is written within the budget (--max-steps alone: no budget).
        A built dataset and a finished run with the same inputs are reused. Example:
          arc-pipeline fetch --mirror ../shared/arc-mirror kaggle && arc-pipeline train-eval
        """)

    @OptionGroup var data: DataOptions
    @Option(help: "Dataset preset: kaggle, arc2 or arc1 (default: kaggle when fetched, else arc2).") var dataset: DatasetPresetName?
    @Option(help: ArgumentHelp(TrainSets.help), transform: { try TrainSets.parse($0) })
    var trainSets: TrainSets = .none
    @Option(help: "Augmentations per task (the paper uses 1000; 1...10000).") var numAug: Int = 4
    @Option(help: "Dataset seed (0...9223372036854775807).") var datasetSeed: UInt64 = 42
    @Option(help: CanvasChoice.help, transform: { try CanvasChoice.parse($0) })
    var canvas: CanvasChoice = .buckets(CanvasBuckets.auto, auto: true)
    @Option(help: "At most this many tasks per set (experiments).") var maxTasks: Int?
    @OptionGroup var model: ModelOptions
    @OptionGroup var trainer: TrainerArguments
    @OptionGroup var runOptions: RunArguments
    @Option(help: "Output folder for submission.json and friends (default submissions/<dataset>).") var out: String?
    @Option(help: "Examples per evaluation batch (1...4096).") var evalBatchSize: Int = 16
    @Flag(help: "Train again even when a finished run with the same inputs exists.") var retrain = false

    func validate() throws {
        try OptionRanges.check("--num-aug", numAug, in: OptionRanges.numAug)
        try OptionRanges.check("--dataset-seed", datasetSeed, in: OptionRanges.seed)
        try OptionRanges.check("--max-tasks", maxTasks, in: OptionRanges.maxTasks)
        try OptionRanges.check("--eval-batch-size", evalBatchSize, in: OptionRanges.batchSize)
    }

    func run() throws {
        setvbuf(stdout, nil, _IOLBF, 0)  // stage lines interleave with stderr progress in order
        let start = Date()
        let dataDir = data.dataDirectory
        let fm = FileManager.default
        let presetName = dataset ?? (fm.fileExists(atPath: dataDir.appendingPathComponent("kaggle/manifest.json").path) ? .kaggle : .arc2)
        var preset = DatasetPreset.preset(presetName)
        preset.training = trainSets.labels(preset: preset)
        let datasetName = "\(presetName)\(trainSets.nameSuffix)-aug\(numAug)\(canvas.nameSuffix)\(maxTasks.map { "-max\($0)" } ?? "")-s\(datasetSeed)"
        let datasetURL = dataDir.appendingPathComponent("built").appendingPathComponent(datasetName)
        let output = URL(fileURLWithPath: out ?? "submissions/\(datasetName)").standardizedFileURL
        let runsFolder = URL(fileURLWithPath: "runs").standardizedFileURL
        // Before any work: the submission folder can be written and replaced (the run folder is
        // checked by the train stage, the dataset folder by the builder).
        try OutputFolder.checkApart(output, from: ProtectedInputs.sources(preset.training + preset.evaluation, dataDirectory: dataDir)
            + [ProtectedInput(datasetURL, "the dataset folder"), ProtectedInput(runsFolder, "the runs folder", outputMayBeInside: true)])
        try OutputFolder.check(output, kind: .evaluation, replacesWhole: true)

        // 1. Dataset (reused when its build_info.json records the same inputs). Under MPI, rank 0
        // builds it first; the other ranks then reuse it (a shared folder) or build the same bytes.
        let group = ProcessGroup.world
        if !group.isRoot { try group.barrier() }
        let stageStart = Date()
        var buildOptions = DatasetBuildOptions()
        buildOptions.numAug = numAug
        buildOptions.seed = datasetSeed
        canvas.apply(to: &buildOptions)
        buildOptions.threads = runOptions.threads
        buildOptions.maxTasksPerSet = maxTasks
        if Self.datasetIsCurrent(datasetURL, inputs: BuildInfo.Inputs(options: buildOptions, training: preset.training, evaluation: preset.evaluation)) {
            print("[1/3] dataset: reusing \(datasetURL.path)")
        } else {
            let inputs = try DatasetInputs.load(labels: preset.training, role: .training, dataDirectory: dataDir)
                + DatasetInputs.load(labels: preset.evaluation, role: .evaluation, dataDirectory: dataDir)
            try Self.checkNoPredictedTaskIsTrainedOn(inputs, training: preset.training)
            // Ctrl-C / SIGTERM: stop, remove the staging folder, leave the previous dataset as it was.
            let interruption = Interruption()
            interruption.install(notice: "stopping; the partial dataset is removed")
            defer { interruption.uninstall() }
            let summary: DatasetBuildSummary
            do {
                summary = try DatasetBuilder.build(inputs: inputs, options: buildOptions, output: datasetURL, interruption: interruption) { _ in }
            } catch let stopped as Interrupted {
                print("\(stopped): the partial dataset was removed")
                throw ExitCode(130)
            }
            print("[1/3] dataset: built \(datasetURL.path) in \(String(format: "%.1f", Date().timeIntervalSince(stageStart))) s: "
                + summary.splits.map { "\($0.name) \($0.examples) examples" }.joined(separator: ", ")
                + (summary.leftOut.isEmpty ? "" : ", \(summary.leftOut.count) tasks left out (they get the fallback)"))
        }
        if group.isRoot { try group.barrier() }

        // 2. Training (a finished run with the same resolved configuration is reused: the run
        // folder is named by the digest of every field of TrainingConfiguration, with the default
        // time budget applied, and its config.json must hold that configuration).
        // --time-budget is the whole job's: the configuration holds it as given (or the default),
        // and training gets what is left after the dataset and the evaluation time reserved below.
        var budgeted = runOptions
        if budgeted.timeBudget == nil && trainer.maxSteps == nil { budgeted.timeBudget = Self.defaultTimeBudget }
        let trainMetadata = datasetURL.appendingPathComponent("train/dataset.json")
        let configuration = try TrainingConfiguration.resolve(
            model: model, trainer: trainer, run: budgeted, metadata: try BuiltDataset(directory: datasetURL).split("train").metadata,
            metadataFile: trainMetadata, datasetDigest: try TrainStage.datasetDigest(datasetURL), defaultEpochs: Self.defaultEpochs)
        let runURL = URL(fileURLWithPath: "runs").standardizedFileURL
            .appendingPathComponent("\(datasetName)-\(model.architecture == .trm ? "trm-" : "")\(model.preset)-\(try configuration.digest().prefix(8))")
        let finished = runURL.appendingPathComponent("training_summary.json")
        // Rank 0 holds the run folder; its answers count on every MPI rank.
        let hasCheckpoint = CheckpointStore(runDirectory: runURL).latest() != nil
        let sameRun = group.isRoot ? try Self.holdsRun(runURL, of: configuration) : false
        // Models are made from here on (the evaluation estimate, training, evaluation): a run that is
        // continued or reused keeps its own precision under auto.
        try PrecisionOption.configure(runOptions.precision, resuming: sameRun && hasCheckpoint ? runURL : nil)
        // The evaluation's model must fit as well: refused now rather than after training (with a time
        // budget the evaluation estimate checks it too; this covers --max-steps without one).
        try Self.checkEvaluationMemory(configuration.model, dataset: datasetURL, batchSize: evalBatchSize)
        if try group.rootDecides(!retrain && sameRun && fm.fileExists(atPath: finished.path) && hasCheckpoint) {
            print("[2/3] train: reusing the finished run \(runURL.path)")
        } else {
            // An interrupted run with the same inputs is resumed; --retrain starts over.
            let resume = try group.rootDecides(!retrain && sameRun && hasCheckpoint)
            if resume { print("[2/3] train: resuming the interrupted run \(runURL.path)") }
            var trainingSeconds: TimeInterval? = nil
            if let total = budgeted.timeBudgetSeconds {
                // The evaluation's batches are shared out over the MPI ranks; rank 0's figures count.
                let reserve = try group.rootValue(try Self.evaluationReserve(configuration.model, dataset: datasetURL, batchSize: evalBatchSize,
                                                                               threads: runOptions.threads) / Double(group.size))
                let used = try group.rootValue(Date().timeIntervalSince(start))
                let left = (total - used - reserve).rounded(.down)
                guard left >= Self.minimumTrainingSeconds else {
                    throw ValidationError("--time-budget \(budgeted.timeBudget ?? "") (\(Int(total)) s for the whole job) leaves \(Int(max(0, left))) s for training "
                        + "after the dataset (\(Int(used.rounded())) s) and the evaluation (about \(Int(reserve.rounded())) s); "
                        + "give at least \(Int((used + reserve + Self.minimumTrainingSeconds).rounded(.up))) s, or --max-steps without a budget")
                }
                trainingSeconds = left
                print("[2/3] train: \(Int(left)) s of the \(Int(total)) s budget (dataset and timing \(Int(used.rounded())) s, evaluation reserved \(Int(reserve.rounded())) s)")
            }
            let stop = StopRequest()
            stop.installSignalHandlers()
            // A fresh run replaces the earlier one (when this program made it; the train stage checks).
            let summary = try TrainStage.run(TrainRequest(dataset: datasetURL, runDirectory: runURL, model: model, trainer: trainer,
                                                          run: budgeted, resume: resume, startOver: !resume,
                                                          trainingTimeBudget: trainingSeconds, defaultEpochs: Self.defaultEpochs), stop: stop)
            var line = "[2/3] train: steps \(summary.endStep) in \(String(format: "%.0f", summary.seconds)) s (\(summary.stopReason))"
            if let m = summary.lastMetrics {
                line += String(format: "; last interval lm_loss %.4f, token accuracy %.3f, exact %.3f", m["lm_loss"] ?? 0, m["accuracy"] ?? 0, m["exact_accuracy"] ?? 0)
            }
            print(line)
            if stop.reason != nil {
                try? fm.removeItem(at: finished)  // interrupted: not a finished run to reuse (resume it with `train --resume`)
                print("stopped; resume with: arc-pipeline train --dataset \(datasetURL.path) --out \(runURL.path) --resume")
                throw ExitCode(130)
            }
        }

        // 3. Evaluate, vote, submission, score, report.
        let evaluation = EvaluateRequest(dataset: datasetURL, model: runURL, output: output, dataDirectory: dataDir,
                                         batchSize: evalBatchSize, threads: runOptions.threads, haltMaxSteps: nil)
        guard group.isRoot else { return try EvaluateStage.runOnWorker(evaluation) }  // MPI ranks 1...
        let outcome = try EvaluateStage.run(evaluation)
        print("[3/3] evaluate:")
        EvaluateCommand.printOutcome(outcome)
        print("run folder: \(runURL.path)")
        let total = Date().timeIntervalSince(start)
        print(String(format: "total %.1f min", total / 60)
            + (budgeted.timeBudgetSeconds.map { String(format: " (budget %.1f min)", $0 / 60) } ?? ""))
    }

    /// The whole job's time when neither --time-budget nor --max-steps is given.
    static let defaultTimeBudget = "8m"
    /// Without --epochs: the reference's epochs (config/cfg_pretrain.yaml), so that the time budget
    /// stops training. On dev10 (development set) one thread trained 38 epochs in 30 minutes and
    /// solved 3/190 test outputs, 155 epochs in 2 hours and solved 14/190 (README).
    static let defaultEpochs = 100_000.0
    /// Training shorter than this is not worth starting: the budget is refused instead.
    static let minimumTrainingSeconds = 10.0

    /// Seconds to keep for the evaluation stage: the measured model time of predicting the test
    /// split, plus 15% and 10 s for voting, writing and the report.
    /// Refuses an evaluation batch (at most the test split's examples) that this machine cannot hold.
    static func checkEvaluationMemory(_ config: HRMConfig, dataset: URL, batchSize: Int) throws {
        let examples = try BuiltDataset(directory: dataset).split("test").orderedSubsets.reduce(0) { $0 + $1.exampleCount }
        let batch = max(1, min(batchSize, examples))
        try MemoryEstimate.check(config: config, batchSize: batch, training: false, what: "evaluating at batch size \(batch)",
                                 remedy: "lower --eval-batch-size")
    }

    static func evaluationReserve(_ config: HRMConfig, dataset: URL, batchSize: Int, threads: Int) throws -> Double {
        let split = try BuiltDataset(directory: dataset).split("test")
        return try PredictionEstimate.seconds(config: config, split: split, batchSize: batchSize, threads: threads) * 1.15 + 10
    }

    /// A training-role set gives every pair, test outputs included, to the train split: one that holds
    /// a task this run predicts would train on its answers (ARC-AGI-2 training holds 376 ARC-AGI-1
    /// evaluation tasks, for example). Refused, naming the set and some of the tasks.
    static func checkNoPredictedTaskIsTrainedOn(_ inputs: [RoledTaskSet], training labels: [String]) throws {
        let predicted = Set(inputs.filter { $0.role == .evaluation }.flatMap { $0.set.tasks.map(\.id) })
        for (input, label) in zip(inputs.filter { $0.role == .training }, labels) {
            let shared = input.set.tasks.map(\.id).filter { predicted.contains($0) }.sorted()
            guard shared.isEmpty else {
                throw ValidationError("--train-sets: \(label) holds \(shared.count) of the tasks this run predicts (\(shared.prefix(3).joined(separator: ", "))"
                                      + "\(shared.count > 3 ? ", ..." : "")): their test outputs would be trained on; choose sets without them")
            }
        }
    }

    /// True when `build_info.json` can be read and records these inputs (every field of
    /// BuildInfo.Inputs), and the test split exists.
    static func datasetIsCurrent(_ url: URL, inputs: BuildInfo.Inputs) -> Bool {
        guard let info = try? BuildInfo.read(datasetDirectory: url),
              FileManager.default.fileExists(atPath: url.appendingPathComponent("test/dataset.json").path) else { return false }
        return info.inputs == inputs
    }

    /// True when the run folder's config.json holds `configuration` (a missing or unreadable file:
    /// false, and the folder is trained afresh). The folder name holds only the digest's first digits.
    static func holdsRun(_ runURL: URL, of configuration: TrainingConfiguration) throws -> Bool {
        guard FileManager.default.fileExists(atPath: RunConfiguration.url(in: runURL).path),
              let stored = try? RunConfiguration.read(runDirectory: runURL) else { return false }
        return try configuration.isSameRun(as: stored.training)
    }
}
