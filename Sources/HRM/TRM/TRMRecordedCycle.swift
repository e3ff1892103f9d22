// What TRM's backward needs from the forward (docs/SPEC.md §9): the last H cycle is differentiated
// in full, so every network application of that cycle keeps its blocks' activations, by role:
// the L_cycles latent updates zL = net(zL, zH + x), in order, and the one answer update
// zH = net(zH, zL). The cycles without gradient record nothing.
//
// Activation memory, in values (T = Float: 4 bytes each), for R = maxBatch * S rows
// (S = seqLen + P), D = hiddenSize, I = intermediateSize:
//   (lCycles + 1) * lLayers * R * (7 D + 3 I + 2 + H)
// (per block: input, rotated qkv (3 D), attention output, hidden after the first norm, output: 7 D;
// gate|up (2 I) and the SwiGLU product (I): 3 I; two reciprocal rms values; the attention's row
// log-sum-exp, one per head: H). Example, the paper's ARC model (D 512, I 1536, 8 heads, 2 layers,
// L_cycles 4, S 916): 10 blocks * 8202 values * 916 rows = 75 M values, 300 MB per example in Float. HRM's one-step gradient keeps (hLayers + lLayers) blocks.
import Kernels

/// The recorded last H cycle: per network application, one BlockActivations per block, in order.
struct RecordedCycle<T: KernelScalar> {
    /// zL = net(zL, zH + x), one per L cycle, in the order they ran.
    let latentUpdates: [[BlockActivations<T>]]
    /// zH = net(zH, zL), after the latent updates.
    let answerUpdate: [BlockActivations<T>]

    init(config: HRMConfig, rows: Int) {
        let d = config.hiddenSize, inter = config.intermediateSize
        func application() -> [BlockActivations<T>] { (0..<config.lLayers).map { _ in BlockActivations(rows: rows, dim: d, inter: inter, heads: config.numHeads) } }
        latentUpdates = (0..<config.lCycles).map { _ in application() }
        answerUpdate = application()
    }

    /// Values held (the formula above; HRMConfig.recordedActivationValues for any architecture).
    static func valueCount(config: HRMConfig, rows: Int) -> Int {
        config.recordedBlockApplications * rows * (7 * config.hiddenSize + 3 * config.intermediateSize + 2 + config.numHeads)
    }
}
