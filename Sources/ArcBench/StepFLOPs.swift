// The analytic FLOP count of one HRM or TRM inner step, for the GFLOP/s and share-of-peak figures of
// `arc-bench step` and `paper` (the formula is in BENCHMARKS.md "Model and kernels").
import HRM

/// Analytic FLOPs of one inner step: forward of all block applications + heads; backward of the
/// differentiated step (linear: 2x forward; attention: recompute + 4 products = 2.5x forward).
struct StepFLOPs {
    let forward: Double
    let backward: Double
    init(config: HRMConfig, batch: Int, tokens: Int? = nil) {
        let d = Double(config.hiddenSize), inter = Double(config.intermediateSize)
        let s = Double(config.puzzleTokens + (tokens ?? config.seqLen)), b = Double(batch)
        let rows = b * s
        let linear = 2 * rows * d * (4 * d + 3 * inter)
        let attention = 4 * b * s * s * d
        let applications = Double(config.blockApplicationsPerStep)
        let headsFLOPs = 2 * b * Double(tokens ?? config.seqLen) * d * Double(config.vocabSize) + 2 * b * d * 2
        forward = applications * (linear + attention) + headsFLOPs
        let differentiated = Double(config.recordedBlockApplications)
        backward = differentiated * (2 * linear + 2.5 * attention) + 2 * headsFLOPs
    }
}
