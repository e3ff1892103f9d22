// The train stage: a built dataset's train split -> a run folder (config.json: Training's
// RunConfiguration, metrics.jsonl, checkpoints/). The run folder is checked before any work
// (OutputFolder: missing, empty or a run folder of this program) and locked for the whole run
// (FolderLock: a second process into the same folder is refused with the holder's PID). Fresh
// runs refuse a folder that already holds checkpoints (use --resume, or startOver for
// train-eval's --retrain) and clear an earlier run's files before they start.
import ARCAugment
import ARCCore
import ARCFetch
import Distributed
import Foundation
import HRM
import Kernels
import Training

enum CodeVersion {
    static let string = "arc-pipeline 0.1.0"
}

struct TrainRequest {
    var dataset: URL
    var runDirectory: URL
    var model: ModelOptions
    var trainer: TrainerArguments
    var run: RunArguments
    var resume: Bool
    var quiet = false
    /// A fresh run replaces an earlier run of this program in the folder, even one with checkpoints.
    var startOver = false
    /// Training's own time limit when it is not `run.timeBudget` (train-eval: what is left of the
    /// job's budget; the run's configuration keeps the job's budget, its reuse key).
    var trainingTimeBudget: TimeInterval? = nil
    /// Epochs without --epochs (TrainingConfiguration.resolve).
    var defaultEpochs: Double = 100

    var timeLimit: TimeInterval? { trainingTimeBudget ?? run.timeBudgetSeconds }
}

enum TrainStage {
    /// Refuses, before anything is allocated or written, a training run this machine cannot hold
    /// (MemoryEstimate); a resumed run, whose batch size and model are fixed, is only warned (it ran
    /// before, perhaps on swap). Every MPI rank checks for itself.
    static func checkMemory(config: HRMConfig, batchSize: Int, carries: Int, resume: Bool) throws {
        do {
            try MemoryEstimate.check(config: config, batchSize: batchSize, training: true, carries: carries,
                                     what: "training at batch size \(batchSize)",
                                     remedy: resume ? "resuming anyway (a resumed run keeps its batch size and model)" : MemoryEstimate.trainingRemedy)
        } catch let tooLarge as MemoryEstimate.TooLarge where resume {
            FileHandle.standardError.write(Data("warning: \(tooLarge)\n".utf8))
        }
    }

    /// SHA-256 over the built dataset's metadata files (they change whenever its content does).
    static func datasetDigest(_ dataset: URL) throws -> String {
        var hasher = SHA256Hasher()
        for name in ["build_info.json", "identifiers.json", "train/dataset.json", "test/dataset.json"] {
            let url = dataset.appendingPathComponent(name)
            if let data = try? Data(contentsOf: url) {
                hasher.update(Data(name.utf8))
                hasher.update(data)
            }
        }
        return hasher.finalizeHex()
    }

    /// `--resume` continues a run as it was configured: a model or trainer option given with a value
    /// other than the run's is refused (naming both) rather than silently ignored.
    static func checkResumeOverrides(_ request: TrainRequest, _ config: HRMConfig, _ options: TrainerOptions, configFile: String) throws {
        let m = request.model, t = request.trainer
        var conflicts: [String] = []
        func compare<V: Equatable>(_ option: String, _ given: V?, _ saved: V) {
            if let given, given != saved { conflicts.append("\(option) \(given) (the run has \(saved))") }
        }
        compare("--arch", m.arch, config.architecture)
        compare("--hidden-size", m.hiddenSize, config.hiddenSize)
        compare("--heads", m.heads, config.numHeads)
        compare("--h-layers", m.hLayers, config.hLayers)
        compare("--l-layers", m.lLayers, config.lLayers)
        compare("--h-cycles", m.hCycles, config.hCycles)
        compare("--l-cycles", m.lCycles, config.lCycles)
        compare("--halt-max-steps", m.haltMaxSteps, config.haltMaxSteps)
        compare("--expansion", m.expansion, config.expansion)
        compare("--puzzle-emb-ndim", m.puzzleEmbNdim, config.puzzleEmbeddingDim)
        compare("--lr", t.lr, options.learningRate)
        compare("--puzzle-emb-lr", t.puzzleEmbLr, options.puzzleEmbeddingLearningRate)
        compare("--weight-decay", t.weightDecay, options.weightDecay)
        compare("--puzzle-emb-weight-decay", t.puzzleEmbWeightDecay, options.puzzleEmbeddingWeightDecay)
        compare("--warmup-steps", t.warmupSteps, options.warmupSteps)
        compare("--lr-min-ratio", t.lrMinRatio, options.lrMinRatio)
        compare("--exploration", t.exploration, options.explorationProbability)
        compare("--ema", t.ema, options.emaRate)
        guard conflicts.isEmpty else {
            throw ARCDataError(file: configFile, message: "--resume continues the run as it was configured, but "
                               + conflicts.joined(separator: ", ") + ": drop these options, or start a new run in another --out")
        }
    }

    /// "--hidden-size 16 --heads 2" for the model and trainer options given over the preset, or "none".
    static func overridesText(_ request: TrainRequest) -> String {
        let m = request.model, t = request.trainer
        let given: [(String, CustomStringConvertible?)] = [
            ("--arch", m.arch), ("--hidden-size", m.hiddenSize), ("--heads", m.heads), ("--h-layers", m.hLayers), ("--l-layers", m.lLayers),
            ("--h-cycles", m.hCycles), ("--l-cycles", m.lCycles), ("--halt-max-steps", m.haltMaxSteps),
            ("--expansion", m.expansion), ("--puzzle-emb-ndim", m.puzzleEmbNdim),
            ("--batch-size", t.batchSize), ("--lr", t.lr), ("--puzzle-emb-lr", t.puzzleEmbLr), ("--weight-decay", t.weightDecay),
            ("--puzzle-emb-weight-decay", t.puzzleEmbWeightDecay), ("--warmup-steps", t.warmupSteps),
            ("--lr-min-ratio", t.lrMinRatio), ("--exploration", t.exploration), ("--ema", t.ema),
        ]
        let parts = given.compactMap { name, value in value.map { "\(name) \($0)" } }
        return parts.isEmpty ? "none" : parts.joined(separator: " ")
    }

    static func run(_ request: TrainRequest, stop: StopRequest) throws -> TrainingSummary {
        if !ProcessGroup.world.isRoot { return try runOnWorker(request, stop: stop) }  // MPI ranks 1...: TrainStage+Distributed.swift
        KernelThreads.configure(threads: request.run.threads)
        let dataset = try BuiltDataset(directory: request.dataset)
        let split = try dataset.split("train")
        let meta = split.metadata
        // One example source per set: "all" for the reference layout, one per canvas bucket otherwise.
        let subsets = split.orderedSubsets
        let exampleCount = subsets.reduce(0) { $0 + $1.exampleCount }
        let digest = try datasetDigest(request.dataset)
        let fm = FileManager.default
        let store = CheckpointStore(runDirectory: request.runDirectory)
        try OutputFolder.checkApart(request.runDirectory, from: [ProtectedInput(request.dataset, "the --dataset")])
        try OutputFolder.check(request.runDirectory, kind: .run, replacesWhole: false)

        let configFile = RunConfiguration.url(in: request.runDirectory).path
        let configuration: TrainingConfiguration
        if request.resume {
            let saved = try RunConfiguration.read(runDirectory: request.runDirectory).training
            if saved.datasetDigest != digest {
                throw ARCDataError(file: configFile, field: "training.datasetDigest",
                                   message: "the run was trained on another dataset than \(request.dataset.path); resume with the same dataset")
            }
            try TrainingSession.checkResume(config: saved.model, options: saved.trainer, dataset: meta, requestedBatchSize: request.trainer.batchSize,
                                            configFile: configFile)
            try checkResumeOverrides(request, saved.model, saved.trainer, configFile: configFile)
            configuration = saved
        } else {
            configuration = try TrainingConfiguration.resolve(model: request.model, trainer: request.trainer, run: request.run, metadata: meta,
                                                              metadataFile: request.dataset.appendingPathComponent("train/dataset.json"), datasetDigest: digest,
                                                              defaultEpochs: request.defaultEpochs)
        }
        let config = configuration.model, options = configuration.trainer
        // A split (or a canvas bucket) smaller than a batch still gives full batches: the group
        // sampler joins several epochs' shuffles (GroupSampler.swift), as the reference's epochs_per_iter.
        guard exampleCount > 0 else {
            throw ARCDataError(file: request.dataset.path, message: "the train split has no examples: nothing to train on")
        }
        let maxSteps = request.trainer.maxSteps ?? options.totalSteps

        try checkMemory(config: config, batchSize: options.batchSize, carries: subsets.count, resume: request.resume)
        let model = ReasoningModel<Float>.make(config: config, maxBatch: options.batchSize)
        if !request.resume { model.parameters.initialize(seed: request.run.seed) }

        // One process per run folder, until this function returns. A fresh run that fails before
        // it wrote its config leaves no folder it created behind.
        let lock = try FolderLock.acquire(request.runDirectory, use: "train", option: "--out")
        var started = request.resume
        defer { if started { lock.release() } else { lock.releaseRemovingCreatedFolders() } }
        if !request.resume {
            if store.latest() != nil && !request.startOver {
                throw ARCDataError(file: request.runDirectory.path, message: "already holds checkpoints; pass --resume to continue it or choose another --out")
            }
            try OutputFolder.clear(request.runDirectory, kind: .run)  // an earlier run's files (made by this program, as checked)
        }
        try fm.createDirectory(at: request.runDirectory, withIntermediateDirectories: true)
        if !request.resume {
            try RunConfiguration(training: configuration, codeVersion: CodeVersion.string, preset: request.model.preset.rawValue,
                                 overrides: overridesText(request), dataset: request.dataset.path, threads: request.run.threads,
                                 parameters: ParameterLayout(config: config).parameterCount, trainingTimeBudgetSeconds: request.timeLimit,
                                 createdAt: ISO8601DateFormatter().string(from: Date()), precision: model.bf16Matmul.map { $0.isNative ? "bf16 (oneDNN)" : "bf16 (emulated)" } ?? "fp32")
                .write(runDirectory: request.runDirectory)
            started = true
        }

        try sendConfiguration(config, options, datasetDigest: digest)  // to the other MPI ranks, if any
        let sources = subsets.map { BuiltExampleSource(subset: $0, ignoreLabelId: meta.ignoreLabelId) }
        let session = try TrainingSession(runDirectory: request.runDirectory, model: model, buckets: sources, options: options,
                                          resume: request.resume, metadata: ["dataset_digest": digest, "code_version": CodeVersion.string],
                                          group: .world)
        var plan = TrainingPlan(maxSteps: maxSteps, timeBudget: request.timeLimit)
        plan.logInterval = request.trainer.logInterval
        plan.checkpointInterval = request.trainer.checkpointInterval
        plan.quiet = request.quiet
        if !request.quiet {
            let shape = config.architecture == .trm ? "TRM, D \(config.hiddenSize), \(config.lLayers) layers"
                : "D \(config.hiddenSize), \(config.hLayers)+\(config.lLayers) layers"
            FileHandle.standardError.write(Data(("training \(ParameterLayout(config: config).parameterCount) parameters (\(shape), "
                + "cycles \(config.hCycles)/\(config.lCycles), ACT \(config.haltMaxSteps)) on \(exampleCount) examples"
                + (subsets.count > 1 || subsets.first?.side != nil
                   ? " in canvas buckets " + subsets.map { "\($0.side.map { "\($0)x\($0)" } ?? $0.name) (\($0.exampleCount))" }.joined(separator: ", ") : "")
                + ", batch \(options.batchSize), "
                + "\(request.resume ? "resuming at step \(session.trainer.step)" : "from scratch") to step \(maxSteps)"
                + (request.timeLimit.map { " or \(Int($0)) s" } ?? "") + "\n").utf8))
        }
        let summary = try session.run(plan, stop: stop)
        var record: [(String, JSONValue)] = [
            ("start_step", .int(summary.startStep)), ("steps", .int(summary.endStep)), ("train_seconds", .double(summary.seconds)),
            ("stop_reason", .string(summary.stopReason)), ("checkpoint", summary.checkpoint.map { .string($0.path) } ?? .null),
        ]
        if let m = summary.lastMetrics { record.append(("last_metrics", .object(m.values.map { ($0.0, .double($0.1)) }))) }
        try AtomicFile.write(JSONWriter.text(.object(record)) + "\n", to: request.runDirectory.appendingPathComponent("training_summary.json"))
        return summary
    }
}
