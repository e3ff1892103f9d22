// TRMModel: the Tiny Recursive Model's inner step (docs/SPEC.md §9). One network of lLayers
// post-norm blocks (HRM's block) updates both states: hCycles - 1 cycles without gradient, each
// L_cycles latent updates zL = net(zL, zH + x) then the answer update zH = net(zH, zL); then the
// last cycle, recorded, and differentiated in full by `backward` (through all L_cycles + 1 network
// applications, not HRM's one step). Heads, embeddings, the step's frame and the API are
// ReasoningModel's (ReasoningModel.swift); activation memory: TRMRecordedCycle.swift.
import Kernels

public final class TRMModel<T: KernelScalar>: ReasoningModel<T>, @unchecked Sendable {
    /// The one network's blocks (`L_level.layers.<i>`).
    let network: [BlockWeights]
    /// The last cycle of the latest withGradient step (allocated on the first one).
    var recorded: RecordedCycle<T>?
    /// d loss / d x (the input embedding), summed over the latent updates of the recorded cycle.
    lazy var inputGradient = Tensor<T>(shape: [maxRows, dim])

    /// A TRM model of a valid config with architecture .trm (arena allocated, weights zero).
    public override init(config: HRMConfig, maxBatch: Int) {
        precondition(config.architecture == .trm, "TRMModel: the config is a \(config.architecture) config (use ReasoningModel.make)")
        network = Self.blockWeights(ParameterLayout(config: config), level: "L_level", count: config.lLayers)
        super.init(config: config, maxBatch: maxBatch)
    }

    /// One H cycle on the carry: L_cycles times zL = net(zL, zH + x), then zH = net(zH, zL); saves
    /// each application's activations into `record` when given.
    @_specialize(where T == Float)
    func cycle(carry: ReasoningCarry<T>, batch: Int, geometry g: StepGeometry<T>, record: RecordedCycle<T>?) {
        let zH = carry.zH.pointer, zL = carry.zL.pointer
        for l in 0..<config.lCycles {
            setInjection(zH, inputEmbedding.pointer, batch: batch, geometry: g)
            blocksForward(zL, injection: injection.pointer, weights: network, batch: batch, geometry: g, save: record?.latentUpdates[l])
        }
        blocksForward(zH, injection: zL, weights: network, batch: batch, geometry: g, save: record?.answerUpdate)
    }

    /// The hCycles - 1 cycles without gradient.
    @_specialize(where T == Float)
    override func runNoGradientCycles(carry: ReasoningCarry<T>, batch: Int, geometry g: StepGeometry<T>) {
        for _ in 0..<(config.hCycles - 1) { cycle(carry: carry, batch: batch, geometry: g, record: nil) }
    }

    /// The last cycle, recorded when `record`.
    @_specialize(where T == Float)
    override func recordedUpdates(carry: ReasoningCarry<T>, batch: Int, geometry g: StepGeometry<T>, record: Bool) {
        if record && recorded == nil { recorded = RecordedCycle(config: config, rows: maxRows) }
        cycle(carry: carry, batch: batch, geometry: g, record: record ? recorded : nil)
    }

    override func recordedAnswer() -> UnsafePointer<T> {
        guard let recorded else { preconditionFailure("TRMModel.backward: no recorded step") }
        return UnsafePointer(recorded.answerUpdate[recorded.answerUpdate.count - 1].output.pointer)
    }

    /// The whole recorded cycle: the answer update zH' = net(zH + zL) (zH entered the cycle without
    /// gradient, so d(zH + zL) is d zL after the last latent update), then the latent updates
    /// zL' = net(zL + zH + x), last to first: each d(zL + zH + x) is added to d x and is d zL of the
    /// previous update (zH has no gradient path; the first zL is the carry's).
    @_specialize(where T == Float)
    override func recordedBackward(_ dz: UnsafeMutablePointer<T>, batch: Int, geometry g: StepGeometry<T>) -> UnsafeMutablePointer<T> {
        guard let recorded else { preconditionFailure("TRMModel.backward: no recorded step") }
        blocksBackward(dz, weights: network, saved: recorded.answerUpdate, batch: batch, geometry: g)
        let count = batch * g.seq * dim
        let dx = inputGradient.pointer
        for j in 0..<count { dx[j] = 0 }
        for update in recorded.latentUpdates.reversed() {
            blocksBackward(dz, weights: network, saved: update, batch: batch, geometry: g)
            timed("residual+rms") { addInPlace(dx, dz, count: count) }
        }
        return dx
    }
}
