// HRMModel: the Hierarchical Reasoning Model's inner step with the 1-step gradient (docs/SPEC.md §4):
// two reasoning modules H and L of post-norm blocks, the no-gradient cycles, then the differentiated
// step zL = L(zL, zH + x); zH = H(zH, zL). Everything the two architectures share (blocks, embeddings,
// heads, the step's and the backward's frame, the API) is in ReasoningModel.swift.
import Kernels

public final class HRMModel<T: KernelScalar>: ReasoningModel<T>, @unchecked Sendable {
    let hWeights: [BlockWeights]
    let lWeights: [BlockWeights]
    // Saved for backward (allocated on the first step with gradient)
    var hActivations: [BlockActivations<T>] = []
    var lActivations: [BlockActivations<T>] = []

    /// An HRM model of a valid config with architecture .hrm (arena allocated, weights zero).
    public override init(config: HRMConfig, maxBatch: Int) {
        precondition(config.architecture == .hrm, "HRMModel: the config is a \(config.architecture) config (use ReasoningModel.make)")
        let layout = ParameterLayout(config: config)
        hWeights = Self.blockWeights(layout, level: "H_level", count: config.hLayers)
        lWeights = Self.blockWeights(layout, level: "L_level", count: config.lLayers)
        super.init(config: config, maxBatch: maxBatch)
    }

    /// Every (h, l) cycle but the last (docs/SPEC.md §4).
    @_specialize(where T == Float)
    override func runNoGradientCycles(carry: ReasoningCarry<T>, batch: Int, geometry g: StepGeometry<T>) {
        let zH = carry.zH.pointer, zL = carry.zL.pointer
        for h in 0..<config.hCycles {
            for l in 0..<config.lCycles where !(h == config.hCycles - 1 && l == config.lCycles - 1) {
                setInjection(zH, inputEmbedding.pointer, batch: batch, geometry: g)
                blocksForward(zL, injection: injection.pointer, weights: lWeights, batch: batch, geometry: g, save: nil)
            }
            if h != config.hCycles - 1 {
                blocksForward(zH, injection: zL, weights: hWeights, batch: batch, geometry: g, save: nil)
            }
        }
    }

    /// The differentiated step: zL = L(zL, zH + x); zH = H(zH, zL).
    @_specialize(where T == Float)
    override func recordedUpdates(carry: ReasoningCarry<T>, batch: Int, geometry g: StepGeometry<T>, record: Bool) {
        if record && hActivations.isEmpty {
            hActivations = (0..<config.hLayers).map { _ in BlockActivations(rows: maxRows, dim: dim, inter: inter, heads: heads) }
            lActivations = (0..<config.lLayers).map { _ in BlockActivations(rows: maxRows, dim: dim, inter: inter, heads: heads) }
        }
        let zH = carry.zH.pointer, zL = carry.zL.pointer
        setInjection(zH, inputEmbedding.pointer, batch: batch, geometry: g)
        blocksForward(zL, injection: injection.pointer, weights: lWeights, batch: batch, geometry: g, save: record ? lActivations : nil)
        blocksForward(zH, injection: zL, weights: hWeights, batch: batch, geometry: g, save: record ? hActivations : nil,
                      lastBlockFirstTokens: firstTokensOnly && !record)
    }

    override func recordedAnswer() -> UnsafePointer<T> {
        UnsafePointer(hActivations[hActivations.count - 1].output.pointer)
    }

    /// H module: its input zH_old + zL_new sends the gradient to zL_new only; then the L module, whose
    /// input gradient d(zL_old + zH_old + x) is d x (nothing flows into the carry: 1-step gradient).
    @_specialize(where T == Float)
    override func recordedBackward(_ dz: UnsafeMutablePointer<T>, batch: Int, geometry g: StepGeometry<T>) -> UnsafeMutablePointer<T> {
        blocksBackward(dz, weights: hWeights, saved: hActivations, batch: batch, geometry: g)
        blocksBackward(dz, weights: lWeights, saved: lActivations, batch: batch, geometry: g)
        return dz
    }
}
