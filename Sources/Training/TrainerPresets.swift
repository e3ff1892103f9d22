// Trainer hyperparameters by preset, beside the model presets of HRMConfig: `paper` is the
// reference's (docs/SPEC.md §6: batch 768, lr 1e-4, puzzle lr 1e-2, wd 0.1, warm-up 2000,
// constant rate); `cpu` is for minutes-long runs on two cores (README "What a CPU budget buys").

import HRM

extension TrainerOptions {
    public static var presetNames: [String] { ModelPreset.allCases.map(\.rawValue) }

    public static func preset(named name: String) -> TrainerOptions? { ModelPreset(rawValue: name).map(preset) }

    /// The trainer settings of `preset` for `architecture`: the same for HRM and TRM (the TRM paper's
    /// are HRM's), except the weight EMA (mu 0.999) of the TRM paper's runs and TRM's `cpu` learning
    /// rate, 3e-4: on the development set (dev10, 30 minutes, BENCHMARKS.md) TRM at HRM's 1e-3 kept a
    /// noisy lm_loss near 1.4 and got 7% of the cells right, at 3e-4 39%.
    public static func preset(_ preset: ModelPreset, architecture: ModelArchitecture) -> TrainerOptions {
        var o = Self.preset(preset)
        if architecture == .trm {
            if preset == .paper { o.emaRate = 0.999 }
            if preset == .cpu { o.learningRate = 3e-4 }
        }
        return o
    }

    public static func preset(_ preset: ModelPreset) -> TrainerOptions {
        var o = TrainerOptions()
        switch preset {
        case .paper:
            o.batchSize = 768
            o.learningRate = 1e-4
            o.puzzleEmbeddingLearningRate = 1e-2
            o.warmupSteps = 2000
        case .cpu, .cpuBench:
            o.batchSize = preset == .cpu ? 16 : 8
            o.learningRate = 1e-3
            o.puzzleEmbeddingLearningRate = 1e-2
            o.warmupSteps = 20
        }
        o.weightDecay = 0.1
        o.puzzleEmbeddingWeightDecay = 0.1
        o.lrMinRatio = 1.0
        o.explorationProbability = 0.1
        return o
    }
}
