// Option groups for the model, the trainer and a run (train, evaluate, train-eval).
import ArgumentParser
import Foundation
import HRM
import Training

struct ModelOptions: ParsableArguments {
    @Option(help: "Model and trainer preset: cpu (small, minutes on 2 cores), paper (the reference's 27M model), cpu-bench.")
    var preset: String = "cpu"
    @Option(help: "Hidden size D (overrides the preset).") var hiddenSize: Int?
    @Option(help: "Attention heads.") var heads: Int?
    @Option(name: .customLong("h-layers"), help: "Layers of the H module.") var hLayers: Int?
    @Option(name: .customLong("l-layers"), help: "Layers of the L module.") var lLayers: Int?
    @Option(name: .customLong("h-cycles"), help: "H cycles per inner step.") var hCycles: Int?
    @Option(name: .customLong("l-cycles"), help: "L cycles per H cycle.") var lCycles: Int?
    @Option(help: "ACT: maximum inner steps (training) and steps run at evaluation.") var haltMaxSteps: Int?
    @Option(help: "SwiGLU expansion.") var expansion: Double?
    @Option(help: "Puzzle embedding width (default D; 0 disables it).") var puzzleEmbNdim: Int?

    func validate() throws {
        guard (try? HRMConfig.preset(named: preset)) != nil, TrainerOptions.preset(named: preset) != nil else {
            throw ValidationError("unknown preset '\(preset)' (known: \(HRMConfig.presetNames.joined(separator: ", ")))")
        }
        for (name, value) in [("--hidden-size", hiddenSize), ("--heads", heads), ("--h-layers", hLayers), ("--l-layers", lLayers),
                              ("--h-cycles", hCycles), ("--l-cycles", lCycles), ("--halt-max-steps", haltMaxSteps)] {
            if let value, value < 1 { throw ValidationError("\(name) must be at least 1") }
        }
    }

    /// The preset with overrides, sized for a dataset (seq_len and identifiers come from it).
    func config(seqLen: Int, numPuzzleIdentifiers: Int, vocabSize: Int) throws -> HRMConfig {
        var c = try HRMConfig.preset(named: preset)
        if let hiddenSize { c.hiddenSize = hiddenSize; c.puzzleEmbeddingDim = hiddenSize }
        if let heads { c.numHeads = heads }
        if let hLayers { c.hLayers = hLayers }
        if let lLayers { c.lLayers = lLayers }
        if let hCycles { c.hCycles = hCycles }
        if let lCycles { c.lCycles = lCycles }
        if let haltMaxSteps { c.haltMaxSteps = haltMaxSteps }
        if let expansion { c.expansion = expansion }
        if let puzzleEmbNdim { c.puzzleEmbeddingDim = puzzleEmbNdim }
        c.seqLen = seqLen
        c.numPuzzleIdentifiers = numPuzzleIdentifiers
        c.vocabSize = vocabSize
        try c.validate()
        return c
    }
}

struct TrainerArguments: ParsableArguments {
    @Option(help: "Global batch size (preset: cpu 16, paper 768).") var batchSize: Int?
    @Option(help: "AdamATan2 learning rate (preset: cpu 1e-3, paper 1e-4).") var lr: Double?
    @Option(help: "Puzzle-embedding sign-SGD learning rate (1e-2).") var puzzleEmbLr: Double?
    @Option(help: "AdamATan2 weight decay (0.1).") var weightDecay: Double?
    @Option(help: "Puzzle-embedding weight decay (0.1).") var puzzleEmbWeightDecay: Double?
    @Option(help: "Linear warm-up steps (preset: cpu 20, paper 2000).") var warmupSteps: Int?
    @Option(help: "Cosine floor as a fraction of the rate (1 = constant).") var lrMinRatio: Double?
    @Option(help: "ACT exploration probability (0.1).") var exploration: Double?
    @Option(help: "Epochs over the groups (sets the schedule's total steps).") var epochs: Double = 100
    @Option(help: "Stop after this many steps (default: the epochs' total).") var maxSteps: Int?
    @Option(help: "Steps between metrics lines.") var logInterval: Int = 10
    @Option(help: "Steps between checkpoints.") var checkpointInterval: Int = 100

    func validate() throws {
        if let batchSize, batchSize < 1 { throw ValidationError("--batch-size must be at least 1") }
        if let lr, !(lr > 0) { throw ValidationError("--lr must be positive") }
        if let maxSteps, maxSteps < 1 { throw ValidationError("--max-steps must be at least 1") }
        if !(epochs > 0) { throw ValidationError("--epochs must be positive") }
        if logInterval < 1 || checkpointInterval < 1 { throw ValidationError("--log-interval and --checkpoint-interval must be at least 1") }
        if let exploration, !(0...1).contains(exploration) { throw ValidationError("--exploration must be in 0...1") }
    }

    func options(preset: String, haltMaxSteps: Int, seed: UInt64) -> TrainerOptions {
        var o = TrainerOptions.preset(named: preset)!
        if let batchSize { o.batchSize = batchSize }
        if let lr { o.learningRate = lr }
        if let puzzleEmbLr { o.puzzleEmbeddingLearningRate = puzzleEmbLr }
        if let weightDecay { o.weightDecay = weightDecay }
        if let puzzleEmbWeightDecay { o.puzzleEmbeddingWeightDecay = puzzleEmbWeightDecay }
        if let warmupSteps { o.warmupSteps = warmupSteps }
        if let lrMinRatio { o.lrMinRatio = lrMinRatio }
        if let exploration { o.explorationProbability = exploration }
        o.haltMaxSteps = haltMaxSteps
        o.seed = seed
        return o
    }
}

struct RunArguments: ParsableArguments {
    @Option(help: "Random seed (model init, sampler, exploration).") var seed: UInt64 = 0
    @Option(help: "Threads for BLAS and kernels (default: all cores; 1 gives bit-identical reruns).")
    var threads: Int = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "Stop training cleanly (with a checkpoint) after this long, e.g. 90s, 10m, 1h30m.")
    var timeBudget: String?

    func validate() throws {
        if threads < 1 { throw ValidationError("--threads must be at least 1") }
        if let timeBudget, Self.seconds(timeBudget) == nil { throw ValidationError("--time-budget '\(timeBudget)' is not a duration like 90s, 10m or 1h30m") }
    }

    var timeBudgetSeconds: TimeInterval? { timeBudget.flatMap(Self.seconds) }

    /// Parses `90`, `90s`, `10m`, `1h30m`, `1.5h`.
    static func seconds(_ text: String) -> TimeInterval? {
        if let plain = Double(text), plain >= 0 { return plain }
        var total = 0.0, number = ""
        for ch in text {
            if ch.isNumber || ch == "." { number.append(ch); continue }
            guard let v = Double(number) else { return nil }
            switch ch {
            case "h": total += v * 3600
            case "m": total += v * 60
            case "s": total += v
            default: return nil
            }
            number = ""
        }
        return number.isEmpty && total >= 0 ? total : nil
    }
}
