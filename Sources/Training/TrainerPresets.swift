// Trainer hyperparameters by preset, beside the model presets of HRMConfig: `paper` is the
// reference's (docs/SPEC.md §6: batch 768, lr 1e-4, puzzle lr 1e-2, wd 0.1, warm-up 2000,
// constant rate); `cpu` is for minutes-long runs on two cores (see README "Training on a CPU").

extension TrainerOptions {
    public static let presetNames = ["paper", "cpu", "cpu-bench"]

    public static func preset(named name: String) -> TrainerOptions? {
        var o = TrainerOptions()
        switch name {
        case "paper":
            o.batchSize = 768
            o.learningRate = 1e-4
            o.puzzleEmbeddingLearningRate = 1e-2
            o.warmupSteps = 2000
        case "cpu", "cpu-bench":
            o.batchSize = name == "cpu" ? 16 : 8
            o.learningRate = 1e-3
            o.puzzleEmbeddingLearningRate = 1e-2
            o.warmupSteps = 20
        default:
            return nil
        }
        o.weightDecay = 0.1
        o.puzzleEmbeddingWeightDecay = 0.1
        o.lrMinRatio = 1.0
        o.explorationProbability = 0.1
        return o
    }
}
