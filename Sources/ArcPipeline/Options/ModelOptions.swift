// Option groups for the model, the trainer and a run (train, evaluate, train-eval). Every
// numeric option is range-checked in `validate()` (ranges in OptionRanges.swift), so a bad value
// is refused with one line before anything is read or written.
import ARCAugment
import ArgumentParser
import Foundation
import Distributed
import HRM
import Kernels
import Training

/// `--preset cpu|paper|cpu-bench`; an unknown name is refused by the parser with the known ones listed.
extension ModelPreset: ExpressibleByArgument {}
/// `--arch hrm|trm`.
extension ModelArchitecture: ExpressibleByArgument {}
/// `--preset arc1|arc2|kaggle` (build-dataset), `--dataset` (train-eval).
extension DatasetPresetName: ExpressibleByArgument {}

struct ModelOptions: ParsableArguments {
    @Option(help: "Architecture: hrm (the Hierarchical Reasoning Model, default) or trm (the Tiny Recursive Model: one network, its last cycle differentiated in full); --preset gives that architecture's version.")
    var arch: ModelArchitecture?
    @Option(help: "Model and trainer preset: cpu (small, minutes on 2 cores), paper (the paper's model: HRM 27M, TRM 7M parameters), cpu-bench.")
    var preset: ModelPreset = .cpu
    @Option(help: "Hidden size D (overrides the preset; 2...4096).") var hiddenSize: Int?
    @Option(help: "Attention heads (1...256; D / heads must be even).") var heads: Int?
    @Option(name: .customLong("h-layers"), help: "Layers of the H module (1...64; HRM only).") var hLayers: Int?
    @Option(name: .customLong("l-layers"), help: "Layers of the L module (HRM) or of the one network (TRM) (1...64).") var lLayers: Int?
    @Option(name: .customLong("h-cycles"), help: "H cycles per inner step (1...64).") var hCycles: Int?
    @Option(name: .customLong("l-cycles"), help: "L cycles per H cycle (1...64).") var lCycles: Int?
    @Option(help: "ACT: maximum inner steps (training) and steps run at evaluation (1...256).") var haltMaxSteps: Int?
    @Option(help: "SwiGLU expansion (0.5...16).") var expansion: Double?
    @Option(help: "Puzzle embedding width (default D; 0 disables it; at most 4096).") var puzzleEmbNdim: Int?

    func validate() throws {
        try OptionRanges.check("--hidden-size", hiddenSize, in: OptionRanges.hiddenSize)
        try OptionRanges.check("--heads", heads, in: OptionRanges.heads)
        try OptionRanges.check("--h-layers", hLayers, in: OptionRanges.layers)
        try OptionRanges.check("--l-layers", lLayers, in: OptionRanges.layers)
        try OptionRanges.check("--h-cycles", hCycles, in: OptionRanges.cycles)
        try OptionRanges.check("--l-cycles", lCycles, in: OptionRanges.cycles)
        try OptionRanges.check("--halt-max-steps", haltMaxSteps, in: OptionRanges.haltMaxSteps)
        try OptionRanges.check("--expansion", expansion, in: OptionRanges.expansion)
        try OptionRanges.check("--puzzle-emb-ndim", puzzleEmbNdim, in: OptionRanges.puzzleEmbeddingWidth)
        if architecture == .trm, hLayers != nil {
            throw ValidationError("--h-layers: TRM has one network and no H layers; set its blocks with --l-layers")
        }

        // The combination, with the preset's values for the options not given.
        let c = try shape()
        if c.puzzleEmbeddingDim > c.puzzleTokens * c.hiddenSize {
            throw ValidationError("--puzzle-emb-ndim \(c.puzzleEmbeddingDim) does not fit the \(c.puzzleTokens) puzzle tokens of width \(c.hiddenSize) of TRM's preset \(preset)")
        }
        if c.hiddenSize % c.numHeads != 0 {
            throw ValidationError("--hidden-size \(c.hiddenSize) must be a multiple of --heads \(c.numHeads) (preset \(preset) gives the values not set)")
        }
        if c.headDim % 2 != 0 {
            throw ValidationError("--hidden-size / --heads = \(c.hiddenSize) / \(c.numHeads) = \(c.headDim) per head, which must be even (RoPE rotates pairs)")
        }
        let parameters = ParameterLayout(config: c).trainableCount
        if parameters > OptionRanges.maxParameters {
            throw ValidationError("--hidden-size \(c.hiddenSize), --h-layers \(c.hLayers), --l-layers \(c.lLayers), --expansion \(c.expansion) "
                + "give \(parameters) parameters; at most \(OptionRanges.maxParameters)")
        }
    }

    /// --arch, HRM when not given.
    var architecture: ModelArchitecture { arch ?? .hrm }

    /// The preset with the shape overrides (dataset sizes still the preset's).
    func shape() throws -> HRMConfig {
        var c = preset.config(for: architecture)
        if let hiddenSize { c.hiddenSize = hiddenSize; c.puzzleEmbeddingDim = hiddenSize }
        if let heads { c.numHeads = heads }
        if let hLayers { c.hLayers = hLayers }
        if let lLayers { c.lLayers = lLayers }
        if let hCycles { c.hCycles = hCycles }
        if let lCycles { c.lCycles = lCycles }
        if let haltMaxSteps { c.haltMaxSteps = haltMaxSteps }
        if let expansion { c.expansion = expansion }
        if let puzzleEmbNdim { c.puzzleEmbeddingDim = puzzleEmbNdim }
        return c
    }

    /// The preset with overrides, sized for a dataset (seq_len and identifiers come from it).
    func config(seqLen: Int, numPuzzleIdentifiers: Int, vocabSize: Int) throws -> HRMConfig {
        var c = try shape()
        c.seqLen = seqLen
        c.numPuzzleIdentifiers = numPuzzleIdentifiers
        c.vocabSize = vocabSize
        try c.validate()
        return c
    }
}

struct TrainerArguments: ParsableArguments {
    @Option(help: "Global batch size (preset: cpu 16, paper 768; 1...4096).") var batchSize: Int?
    @Option(help: "AdamATan2 learning rate (preset: cpu 1e-3 (TRM 3e-4), paper 1e-4; in (0, 1]).") var lr: Double?
    @Option(help: "Puzzle-embedding sign-SGD learning rate (1e-2; 0...1).") var puzzleEmbLr: Double?
    @Option(help: "AdamATan2 weight decay (0.1; 0...10).") var weightDecay: Double?
    @Option(help: "Puzzle-embedding weight decay (0.1; 0...10).") var puzzleEmbWeightDecay: Double?
    @Option(help: "Linear warm-up steps (preset: cpu 20, paper 2000; 0 or more).") var warmupSteps: Int?
    @Option(help: "Cosine floor as a fraction of the rate (1 = constant; 0...1).") var lrMinRatio: Double?
    @Option(help: "Weight EMA rate mu: evaluate and export the average (1 - mu) * weights + mu * average, updated every step (0 = off; preset: TRM paper 0.999, otherwise off; 0...0.9999).") var ema: Double?
    @Option(help: "ACT exploration probability (0.1; 0...1).") var exploration: Double?
    @Option(help: "Epochs over the groups (sets the schedule's total steps; in (0, 10000000]; default: train 100, train-eval 100000, the reference's, so that its time budget stops training).") var epochs: Double?
    @Option(help: "Stop after this many steps (default: the epochs' total).") var maxSteps: Int?
    @Option(help: "Steps between metrics lines.") var logInterval: Int = TrainingConfiguration.defaultLogInterval
    @Option(help: "Steps between checkpoints.") var checkpointInterval: Int = TrainingConfiguration.defaultCheckpointInterval

    func validate() throws {
        try OptionRanges.check("--batch-size", batchSize, in: OptionRanges.batchSize)
        try OptionRanges.check("--lr", lr, in: OptionRanges.learningRate, aboveLowerBound: true)
        try OptionRanges.check("--puzzle-emb-lr", puzzleEmbLr, in: OptionRanges.learningRate)
        try OptionRanges.check("--weight-decay", weightDecay, in: OptionRanges.weightDecay)
        try OptionRanges.check("--puzzle-emb-weight-decay", puzzleEmbWeightDecay, in: OptionRanges.weightDecay)
        try OptionRanges.check("--warmup-steps", warmupSteps, in: OptionRanges.warmupSteps)
        try OptionRanges.check("--lr-min-ratio", lrMinRatio, in: OptionRanges.fraction)
        try OptionRanges.check("--exploration", exploration, in: OptionRanges.fraction)
        try OptionRanges.check("--ema", ema, in: OptionRanges.emaRate)
        try OptionRanges.check("--epochs", epochs, in: OptionRanges.epochs, aboveLowerBound: true)
        try OptionRanges.check("--max-steps", maxSteps, in: OptionRanges.steps)
        try OptionRanges.check("--log-interval", logInterval, in: OptionRanges.steps)
        try OptionRanges.check("--checkpoint-interval", checkpointInterval, in: OptionRanges.steps)
    }

    func options(preset: ModelPreset, architecture: ModelArchitecture, seed: UInt64) -> TrainerOptions {
        var o = TrainerOptions.preset(preset, architecture: architecture)
        if let batchSize { o.batchSize = batchSize }
        if let lr { o.learningRate = lr }
        if let puzzleEmbLr { o.puzzleEmbeddingLearningRate = puzzleEmbLr }
        if let weightDecay { o.weightDecay = weightDecay }
        if let puzzleEmbWeightDecay { o.puzzleEmbeddingWeightDecay = puzzleEmbWeightDecay }
        if let warmupSteps { o.warmupSteps = warmupSteps }
        if let lrMinRatio { o.lrMinRatio = lrMinRatio }
        if let exploration { o.explorationProbability = exploration }
        if let ema { o.emaRate = ema }
        o.seed = seed
        return o
    }
}

struct RunArguments: ParsableArguments {
    @Option(help: "Random seed (model init, sampler, exploration; 0...9223372036854775807).") var seed: UInt64 = 0
    @Option(help: "Threads for BLAS and kernels (default: all cores; 1...256; 1 gives bit-identical reruns).")
    var threads: Int = RunArguments.defaultThreads
    @Option(help: "Time budget, e.g. 90s, 10m, 1h30m (at most 365 days). train: stop training cleanly (with a checkpoint) after this long; train-eval: the whole job, evaluation time reserved.")
    var timeBudget: String?
    @Option(help: ArgumentHelp(PrecisionRequest.help))
    var precision: PrecisionRequest = .auto

    /// All cores, within the allowed range.
    static var defaultThreads: Int { min(max(1, ProcessInfo.processInfo.activeProcessorCount), OptionRanges.threads.upperBound) }

    func validate() throws {
        try OptionRanges.check("--seed", seed, in: OptionRanges.seed)
        try OptionRanges.check("--threads", threads, in: OptionRanges.threads)
        if let timeBudget {
            guard let seconds = DurationOption.seconds(timeBudget) else {
                throw ValidationError("--time-budget '\(timeBudget)' is not a duration like 90s, 10m or 1h30m")
            }
            let allowed = OptionRanges.timeBudgetSeconds
            guard seconds > allowed.lowerBound, seconds <= allowed.upperBound else {
                throw ValidationError("--time-budget '\(timeBudget)' is \(OptionRanges.text(seconds)) s, outside (0, \(OptionRanges.text(allowed.upperBound))] s (at most 365 days)")
            }
        }
    }

    var timeBudgetSeconds: TimeInterval? { timeBudget.flatMap(DurationOption.seconds) }
}

extension PrecisionRequest: ExpressibleByArgument {}

enum PrecisionOption {
    /// Resolves a --precision request on this CPU, sets it for the models made from now on (KernelPrecision)
    /// and prints the line that says what runs (on the root rank). Under MPI, rank 0 decides and every
    /// rank takes its answer (auto's timing could differ between processes). Continuing a run (`resuming`:
    /// its folder), auto keeps the precision recorded in the run's config.json; an explicit value wins.
    static func configure(_ request: PrecisionRequest, resuming run: URL? = nil) throws {
        let group = ProcessGroup.world
        var choice: PrecisionChoice?
        var note = ""
        if group.isRoot {
            var asked = request
            if request == .auto, let run, let recorded = (try? RunConfiguration.read(runDirectory: run))?.precision {
                asked = recorded.hasPrefix("bf16") ? .bf16 : .fp32
                note = "; auto kept the run's own precision (\(recorded), its config.json)"
            }
            choice = PrecisionChoice.choose(asked)
        }
        let bf16 = try group.rootDecides(choice?.precision == .bf16)
        let decided = choice ?? PrecisionChoice.choose(bf16 ? .bf16 : .fp32)
        let line = KernelPrecision.configure(decided)
        if group.isRoot { print(line + note) }
    }
}
