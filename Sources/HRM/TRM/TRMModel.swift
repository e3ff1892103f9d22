// TRMModel: the Tiny Recursive Model's inner step on the CPU (docs/SPEC.md §9). One network of
// lLayers post-norm blocks (HRM's block, §4: attention with RoPE, SwiGLU, weightless RMSNorm) updates
// both states: hCycles - 1 cycles without gradient, each L_cycles latent updates zL = net(zL, zH + x)
// then the answer update zH = net(zH, zL); then the last cycle, recorded, and differentiated in full
// by `backward` (through all L_cycles + 1 network applications, not HRM's one step). Heads as HRM:
// logits = lm_head(zH)[P:], (q_halt, q_continue) = q_head(zH[0]). Generic over the scalar: Float in
// production, Double for finite-difference tests. Activation memory: TRMRecordedCycle.swift.
//
// API, shaped like HRMModel's so an ACT trainer can drive it the same way (T = Float in production):
//   let config = TRMConfig.paper (or a smaller one); try config.validate(batchSize: b)
//   let model = TRMModel<Float>(config: config, maxBatch: b)       // arena allocated, weights zero
//   model.parameters.initialize(seed: s)                            // spec init (puzzle table zeros)
//   try model.load(from: SafeTensorsFile, source:)                  // official TRM names (TRMModel+Tensors.swift)
//   let carry = TRMCarry<Float>(config: config, batch: b [, side: s]); carry.resetAll(model: model)
//   model.innerStep(carry:, inputs: ptr [b * carry.tokensPerExample], puzzleIdentifiers: ptr [b], batch: b, withGradient:)
//     -> model.logits [b, tokensPerExample, vocab] from the buffer start, model.qLogits [b, 2]
//        (column 0 q_halt, 1 q_continue); the carry is updated in place (detached by construction).
//     The recorded cycle of a withGradient step stays valid for `backward` across later
//     no-gradient steps and qHeadStep.
//   model.qHeadStep(carry:, inputs:, puzzleIdentifiers:, batch:, qLogits: ptr [b*2]): one more
//     no-gradient step running only the Q head (the §5 target step, needed only when !noACTContinue).
//   Losses write model.logitGradients / model.qLogitGradients (same shapes as the outputs), then
//   model.zeroGradients(); model.backward(dlogits:, dq:, batch:)
//     -> model.gradients (the arena's trainable prefix, offsets of model.parameters.layout) accumulated,
//        model.puzzleGradients [b, ndim] per slot of model.lastPuzzleIdentifiers (duplicates not summed).
import Kernels

public final class TRMModel<T: KernelScalar>: @unchecked Sendable {
    public let config: TRMConfig
    public var parameters: ParameterArena<T>
    /// d loss / d parameter for the trainable part of the arena (same offsets). Accumulated by backward;
    /// allocated on first use.
    public private(set) lazy var gradients: Tensor<T> = Tensor(shape: [parameters.layout.trainableCount])
    /// d loss / d puzzle row, per batch slot [maxBatch, ndim] (overwritten by backward).
    public let puzzleGradients: Tensor<T>
    /// Outputs of the last inner step: logits [maxBatch, seqLen, vocab], q logits [maxBatch, 2].
    public let logits: Tensor<T>
    public let qLogits: Tensor<T>
    /// Where a trainer's loss writes d loss / d logits and d loss / d q logits; allocated on first use.
    public private(set) lazy var logitGradients: Tensor<T> = Tensor(shape: [maxBatch, config.seqLen, vocab])
    public private(set) lazy var qLogitGradients: Tensor<T> = Tensor(shape: [maxBatch, 2])
    public let maxBatch: Int
    public var profiler: KernelProfiler?

    let dim: Int, heads: Int, headDim: Int, inter: Int, seq: Int, puzzleTokens: Int, ndim: Int, vocab: Int
    let maxRows: Int
    let rotary: RotaryTable<T>
    /// The one network's blocks (`L_level.layers.<i>`).
    let network: [BlockWeights]
    let offsets: (tokens: Int, lmHead: Int, qWeight: Int, qBias: Int)

    // Work buffers, [maxRows, ...]
    let inputEmbedding: Tensor<T>
    let injection: Tensor<T>
    let puzzleRows: Tensor<T>
    let qkvScratch: Tensor<T>, attentionScratchBuffer: Tensor<T>, projection: Tensor<T>
    let gateUpScratch: Tensor<T>, activationScratch: Tensor<T>, rstdScratch: Tensor<T>
    let fullGeometry: StepGeometry<T>
    var sideGeometries: [Int: StepGeometry<T>] = [:]
    let firstTokens: Tensor<T>
    let savedFirstTokens: Tensor<T>
    /// The last cycle of the latest withGradient step (allocated on the first one).
    var recorded: RecordedCycle<T>?
    var savedInputs: [Int32] = []
    var savedPuzzleIdentifiers: [Int32] = []
    var savedBatch = 0
    var savedGeometry: StepGeometry<T>?
    var hasSavedActivations = false
    /// The puzzle identifiers of the recorded step (a new array: for tests and diagnostics).
    public var lastPuzzleIdentifiers: [Int32] { Array(savedPuzzleIdentifiers.prefix(savedBatch)) }
    lazy var backwardScratch = BackwardScratch<T>(rows: maxRows, batch: maxBatch, dim: dim, inter: inter)
    /// d loss / d x (the input embedding), summed over the latent updates of the recorded cycle.
    lazy var inputGradient = Tensor<T>(shape: [maxRows, dim])

    /// A model of `config` (validated by the caller: `config.validate(batchSize: maxBatch)`).
    public init(config: TRMConfig, maxBatch: Int) {
        precondition((try? config.validate(batchSize: maxBatch)) != nil, "TRMModel: call config.validate(batchSize:) first")
        self.config = config
        self.maxBatch = maxBatch
        dim = config.hiddenSize; heads = config.numHeads; headDim = config.headDim; inter = config.intermediateSize
        seq = config.totalLength; puzzleTokens = config.puzzleTokens; ndim = config.puzzleEmbeddingDim; vocab = config.vocabSize
        maxRows = maxBatch * seq
        parameters = ParameterArena(trm: config)
        let layout = parameters.layout
        puzzleGradients = Tensor(shape: [maxBatch, max(1, ndim)])
        logits = Tensor(shape: [maxBatch, config.seqLen, vocab])
        qLogits = Tensor(shape: [maxBatch, 2])
        rotary = RotaryTable(sequenceLength: seq, headDim: headDim, theta: config.ropeTheta)
        network = (0..<config.lLayers).map { layer in
            let base = ParameterLayout.prefix + TRMNetworkNames.layerPrefix(layer)
            return BlockWeights(qkv: layout[base + TRMNetworkNames.qkv].offset, output: layout[base + TRMNetworkNames.output].offset,
                                gateUp: layout[base + TRMNetworkNames.gateUp].offset, down: layout[base + TRMNetworkNames.down].offset)
        }
        let p = ParameterLayout.prefix
        offsets = (layout[p + "embed_tokens.embedding_weight"].offset, layout[p + "lm_head.weight"].offset,
                   layout[p + "q_head.weight"].offset, layout[p + "q_head.bias"].offset)
        inputEmbedding = Tensor(shape: [maxRows, dim])
        injection = Tensor(shape: [maxRows, dim])
        puzzleRows = Tensor(shape: [maxBatch, max(1, ndim)])
        qkvScratch = Tensor(shape: [maxRows, 3 * dim])
        attentionScratchBuffer = Tensor(shape: [maxRows, dim])
        projection = Tensor(shape: [maxRows, dim])
        gateUpScratch = Tensor(shape: [maxRows, 2 * inter])
        activationScratch = Tensor(shape: [maxRows, inter])
        rstdScratch = Tensor(shape: [maxRows])
        fullGeometry = StepGeometry(side: nil, tokens: config.seqLen, seq: seq, positions: nil, attention: AttentionScratch(seq: seq))
        firstTokens = Tensor(shape: [maxBatch, dim])
        savedFirstTokens = Tensor(shape: [maxBatch, dim])
    }

    @inline(__always)
    func timed<R>(_ name: String, _ body: () -> R) -> R {
        if let profiler { return profiler.measure(name, body) }
        return body()
    }

    /// The geometry of a step on `carry` (made for this model's config).
    func geometry(for carry: TRMCarry<T>) -> StepGeometry<T> {
        precondition(carry.dim == dim && carry.puzzleTokens == puzzleTokens, "TRMCarry made for another config (D \(carry.dim), P \(carry.puzzleTokens); model D \(dim), P \(puzzleTokens))")
        guard let side = carry.side else {
            precondition(carry.tokensPerExample == config.seqLen, "TRMCarry has \(carry.tokensPerExample) tokens, model seqLen \(config.seqLen)")
            return fullGeometry
        }
        if let known = sideGeometries[side] { return known }
        precondition((try? TRMCarry<T>.validateSide(side, config: config)) != nil, "TRMCarry side \(side) is not valid for seqLen \(config.seqLen)")
        let tokens = side * side
        let made = StepGeometry<T>(side: side, tokens: tokens, seq: puzzleTokens + tokens,
                                   positions: TRMCarry<T>.positions(side: side, config: config),
                                   attention: AttentionScratch(seq: puzzleTokens + tokens))
        sideGeometries[side] = made
        return made
    }

    /// RoPE on qkv [batch * g.seq, 3D] with the geometry's positions (inverse = backward).
    @_specialize(where T == Float)
    func rope(_ qkv: UnsafeMutablePointer<T>, inverse: Bool, batch: Int, geometry g: StepGeometry<T>) {
        if let positions = g.positions {
            positions.withUnsafeBufferPointer {
                ropeApply(qkv, table: rotary, positions: $0.baseAddress!, inverse: inverse, batch: batch, seq: g.seq, heads: heads, headDim: headDim)
            }
        } else {
            ropeApply(qkv, table: rotary, inverse: inverse, batch: batch, seq: g.seq, heads: heads, headDim: headDim)
        }
    }

    public func zeroGradients() {
        gradients.zero()
        puzzleGradients.zero()
    }

    // MARK: forward

    /// Embeds inputs [batch, g.tokens] and puzzle identifiers [batch] into inputEmbedding (x).
    @_specialize(where T == Float)
    func embed(inputs: UnsafePointer<Int32>, puzzleIdentifiers: UnsafePointer<Int32>, batch: Int, geometry g: StepGeometry<T>) {
        let w = parameters.values.pointer
        timed("embedding") {
            if ndim > 0 {
                puzzleRowsForward(puzzleRows.pointer, parameters.puzzleEmbedding.pointer, puzzleIdentifiers, batch: batch, tableRows: config.numPuzzleIdentifiers + 1, ndim: ndim)
            }
            inputEmbeddingForward(
                inputEmbedding.pointer, inputs, w + offsets.tokens, ndim > 0 ? UnsafePointer(puzzleRows.pointer) : nil,
                batch: batch, tokens: g.tokens, vocab: vocab, puzzleTokens: puzzleTokens, ndim: ndim, dim: dim,
                scale: T(Double(dim).squareRoot()))
        }
    }

    /// One post-norm block in place on z [rows, D]; saves activations when `save` is given.
    @_specialize(where T == Float)
    func blockForward(_ z: UnsafeMutablePointer<T>, weights: BlockWeights, batch: Int, geometry g: StepGeometry<T>, save: BlockActivations<T>?) {
        let rows = batch * g.seq
        let w = parameters.values.pointer
        let qkv = save?.qkv.pointer ?? qkvScratch.pointer
        let attention = save?.attention.pointer ?? attentionScratchBuffer.pointer
        let gateUp = save?.gateUp.pointer ?? gateUpScratch.pointer
        let activation = save?.activation.pointer ?? activationScratch.pointer
        if let save { save.input.pointer.update(from: z, count: rows * dim) }
        timed("linear qkv") { linearForward(qkv, z, w + weights.qkv, nil, rows: rows, inFeatures: dim, outFeatures: 3 * dim) }
        timed("rope") { rope(qkv, inverse: false, batch: batch, geometry: g) }
        timed("attention") { attentionForward(attention, qkv, scratch: g.attention, batch: batch, seq: g.seq, heads: heads, headDim: headDim) }
        timed("linear o") { linearForward(projection.pointer, attention, w + weights.output, nil, rows: rows, inFeatures: dim, outFeatures: dim) }
        timed("residual+rms") {
            addInPlace(z, projection.pointer, count: rows * dim)
            rmsNormForward(z, save?.rstd1.pointer ?? rstdScratch.pointer, z, rows: rows, dim: dim, epsilon: T(config.rmsNormEpsilon))
        }
        if let save { save.hidden.pointer.update(from: z, count: rows * dim) }
        timed("linear gate_up") { linearForward(gateUp, z, w + weights.gateUp, nil, rows: rows, inFeatures: dim, outFeatures: 2 * inter) }
        timed("swiglu") { swiGLUForward(activation, gateUp, rows: rows, inter: inter) }
        timed("linear down") { linearForward(projection.pointer, activation, w + weights.down, nil, rows: rows, inFeatures: inter, outFeatures: dim) }
        timed("residual+rms") {
            addInPlace(z, projection.pointer, count: rows * dim)
            rmsNormForward(z, save?.rstd2.pointer ?? rstdScratch.pointer, z, rows: rows, dim: dim, epsilon: T(config.rmsNormEpsilon))
        }
        if let save { save.output.pointer.update(from: z, count: rows * dim) }
    }

    /// One application of the network in place on z: z = z + injection, then the blocks in order.
    @_specialize(where T == Float)
    func networkForward(_ z: UnsafeMutablePointer<T>, injection inj: UnsafePointer<T>, batch: Int, geometry g: StepGeometry<T>, save: NetworkActivations<T>?) {
        timed("residual+rms") { addInPlace(z, inj, count: batch * g.seq * dim) }
        for (index, block) in network.enumerated() {
            blockForward(z, weights: block, batch: batch, geometry: g, save: save?.blocks[index])
        }
    }

    /// injection = zH + x
    @_specialize(where T == Float)
    func setLatentInjection(_ zH: UnsafePointer<T>, batch: Int, geometry g: StepGeometry<T>) {
        let n = batch * g.seq * dim
        let out = SendablePointer(injection.pointer), pa = SendablePointer(UnsafeMutablePointer(mutating: zH))
        let pb = SendablePointer(inputEmbedding.pointer)
        parallelChunks(n) { range in
            for i in range { out.pointer[i] = pa.pointer[i] + pb.pointer[i] }
        }
    }

    /// One H cycle on the carry: L_cycles times zL = net(zL, zH + x), then zH = net(zH, zL); saves
    /// each application's activations into `record` when given.
    @_specialize(where T == Float)
    func cycle(carry: TRMCarry<T>, batch: Int, geometry g: StepGeometry<T>, record: RecordedCycle<T>?) {
        let zH = carry.zH.pointer, zL = carry.zL.pointer
        for l in 0..<config.lCycles {
            setLatentInjection(zH, batch: batch, geometry: g)
            networkForward(zL, injection: injection.pointer, batch: batch, geometry: g, save: record?.latentUpdates[l])
        }
        networkForward(zH, injection: zL, batch: batch, geometry: g, save: record?.answerUpdate)
    }

    /// The hCycles - 1 cycles without gradient (x must be set by embed).
    @_specialize(where T == Float)
    func runNoGradientCycles(carry: TRMCarry<T>, batch: Int, geometry g: StepGeometry<T>) {
        for _ in 0..<(config.hCycles - 1) { cycle(carry: carry, batch: batch, geometry: g, record: nil) }
    }

    /// The last cycle from the current carry (x set by embed), recorded when withGradient, then the heads.
    /// With `qLogitsOnly` (no gradient) only the Q head runs, into that buffer.
    @_specialize(where T == Float)
    func lastCycle(carry: TRMCarry<T>, batch: Int, geometry g: StepGeometry<T>, withGradient: Bool,
                   qLogitsOnly: UnsafeMutablePointer<T>? = nil) {
        precondition(!(withGradient && qLogitsOnly != nil), "lastCycle: a Q-head-only step records no gradient")
        if withGradient && recorded == nil { recorded = RecordedCycle(config: config, rows: maxRows) }
        cycle(carry: carry, batch: batch, geometry: g, record: withGradient ? recorded : nil)
        heads(zH: carry.zH.pointer, batch: batch, geometry: g, tokenLogits: qLogitsOnly == nil, qLogits: qLogitsOnly ?? qLogits.pointer)
        if withGradient {
            savedFirstTokens.pointer.update(from: firstTokens.pointer, count: batch * dim)
            hasSavedActivations = true
            savedBatch = batch
            savedGeometry = g
        }
    }

    /// With tokenLogits, logits = lm_head(zH)[P:] as [batch, g.tokens, vocab] from the buffer start; always
    /// q = q_head(zH[:, 0]) into `destination` [batch, 2].
    @_specialize(where T == Float)
    func heads(zH: UnsafePointer<T>, batch: Int, geometry g: StepGeometry<T>, tokenLogits: Bool, qLogits destination: UnsafeMutablePointer<T>) {
        let w = parameters.values.pointer
        timed("lm_head") {
            if tokenLogits {
                for b in 0..<batch {
                    linearForward(logits.pointer + b * g.tokens * vocab, zH + (b * g.seq + puzzleTokens) * dim, w + offsets.lmHead, nil,
                                  rows: g.tokens, inFeatures: dim, outFeatures: vocab)
                }
            }
            for b in 0..<batch { (firstTokens.pointer + b * dim).update(from: zH + b * g.seq * dim, count: dim) }
            linearForward(destination, firstTokens.pointer, w + offsets.qWeight, w + offsets.qBias, rows: batch, inFeatures: dim, outFeatures: 2)
        }
    }

    func checkBatch(_ batch: Int, carry: TRMCarry<T>, _ caller: String) {
        precondition(batch >= 1 && batch <= maxBatch && batch <= carry.batch, "\(caller): batch \(batch) outside 1...min(model \(maxBatch), carry \(carry.batch))")
    }

    /// One inner step on the carry for `batch` slots: inputs [batch, carry.tokensPerExample], puzzleIdentifiers [batch].
    /// Writes logits / qLogits and updates the carry in place; withGradient records the last cycle for `backward`.
    @_specialize(where T == Float)
    public func innerStep(carry: TRMCarry<T>, inputs: UnsafePointer<Int32>, puzzleIdentifiers: UnsafePointer<Int32>, batch: Int, withGradient: Bool) {
        checkBatch(batch, carry: carry, "innerStep")
        let g = geometry(for: carry)
        embed(inputs: inputs, puzzleIdentifiers: puzzleIdentifiers, batch: batch, geometry: g)
        if withGradient { saveStepInputs(inputs, puzzleIdentifiers, count: batch * g.tokens, batch: batch) }
        runNoGradientCycles(carry: carry, batch: batch, geometry: g)
        lastCycle(carry: carry, batch: batch, geometry: g, withGradient: withGradient)
    }

    /// Array convenience for innerStep.
    public func innerStep(carry: TRMCarry<T>, inputs: [Int32], puzzleIdentifiers: [Int32], withGradient: Bool) {
        let batch = puzzleIdentifiers.count
        precondition(inputs.count == batch * carry.tokensPerExample, "innerStep: \(inputs.count) input tokens for batch \(batch) x \(carry.tokensPerExample) tokens per example")
        inputs.withUnsafeBufferPointer { ip in
            puzzleIdentifiers.withUnsafeBufferPointer { pp in
                innerStep(carry: carry, inputs: ip.baseAddress!, puzzleIdentifiers: pp.baseAddress!, batch: batch, withGradient: withGradient)
            }
        }
    }

    /// One more no-gradient inner step on `carry` running only the Q head into `destination` [batch, 2];
    /// logits, qLogits and the recorded cycle keep their values (the §5 Q-continue target step).
    @_specialize(where T == Float)
    public func qHeadStep(carry: TRMCarry<T>, inputs: UnsafePointer<Int32>, puzzleIdentifiers: UnsafePointer<Int32>, batch: Int,
                          qLogits destination: UnsafeMutablePointer<T>) {
        checkBatch(batch, carry: carry, "qHeadStep")
        let g = geometry(for: carry)
        embed(inputs: inputs, puzzleIdentifiers: puzzleIdentifiers, batch: batch, geometry: g)
        runNoGradientCycles(carry: carry, batch: batch, geometry: g)
        lastCycle(carry: carry, batch: batch, geometry: g, withGradient: false, qLogitsOnly: destination)
    }

    /// Keeps the recorded step's inputs and identifiers for `backward`, in buffers made once.
    func saveStepInputs(_ inputs: UnsafePointer<Int32>, _ puzzleIdentifiers: UnsafePointer<Int32>, count: Int, batch: Int) {
        if savedInputs.isEmpty {
            savedInputs = [Int32](repeating: 0, count: maxBatch * config.seqLen)
            savedPuzzleIdentifiers = [Int32](repeating: 0, count: maxBatch)
        }
        savedInputs.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: inputs, count: count) }
        savedPuzzleIdentifiers.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: puzzleIdentifiers, count: batch) }
    }

    /// For tests: embeds and runs only the cycles without gradient on the carry.
    func noGradientCycles(carry: TRMCarry<T>, inputs: [Int32], puzzleIdentifiers: [Int32]) {
        let batch = puzzleIdentifiers.count
        checkBatch(batch, carry: carry, "noGradientCycles")
        let g = geometry(for: carry)
        precondition(inputs.count == batch * g.tokens, "noGradientCycles: \(inputs.count) tokens for batch \(batch) x \(g.tokens)")
        inputs.withUnsafeBufferPointer { ip in puzzleIdentifiers.withUnsafeBufferPointer { pp in
            embed(inputs: ip.baseAddress!, puzzleIdentifiers: pp.baseAddress!, batch: batch, geometry: g)
        } }
        runNoGradientCycles(carry: carry, batch: batch, geometry: g)
    }

    /// For tests: only the differentiated part (the last cycle and the heads) from the given carry.
    func lastCycleOnly(carry: TRMCarry<T>, inputs: [Int32], puzzleIdentifiers: [Int32], withGradient: Bool) {
        let batch = puzzleIdentifiers.count
        checkBatch(batch, carry: carry, "lastCycleOnly")
        let g = geometry(for: carry)
        precondition(inputs.count == batch * g.tokens, "lastCycleOnly: \(inputs.count) tokens for batch \(batch) x \(g.tokens)")
        inputs.withUnsafeBufferPointer { ip in puzzleIdentifiers.withUnsafeBufferPointer { pp in
            embed(inputs: ip.baseAddress!, puzzleIdentifiers: pp.baseAddress!, batch: batch, geometry: g)
            if withGradient { saveStepInputs(ip.baseAddress!, pp.baseAddress!, count: inputs.count, batch: batch) }
        } }
        lastCycle(carry: carry, batch: batch, geometry: g, withGradient: withGradient)
    }

    // MARK: backward

    /// Backward of one block: dz [rows, D] holds d output on entry and d input on exit.
    @_specialize(where T == Float)
    func blockBackward(_ dz: UnsafeMutablePointer<T>, weights: BlockWeights, saved: BlockActivations<T>, batch: Int, geometry g: StepGeometry<T>) {
        let rows = batch * g.seq
        let w = parameters.values.pointer
        let gradient = gradients.pointer
        let scratch = backwardScratch
        let dActivation = scratch.activation.pointer
        let dGateUp = scratch.gateUp.pointer
        let dAttention = scratch.attention.pointer
        let dQKV = scratch.qkv.pointer
        timed("rms backward") { rmsNormBackward(dz, dz, saved.output.pointer, saved.rstd2.pointer, rows: rows, dim: dim) }
        timed("linear down backward") {
            linearBackward(dActivation, gradient + weights.down, nil, dz, saved.activation.pointer, w + weights.down, rows: rows, inFeatures: inter, outFeatures: dim)
        }
        timed("swiglu backward") { swiGLUBackward(dGateUp, dActivation, saved.gateUp.pointer, rows: rows, inter: inter) }
        timed("linear gate_up backward") {
            linearBackward(dz, gradient + weights.gateUp, nil, dGateUp, saved.hidden.pointer, w + weights.gateUp, rows: rows, inFeatures: dim, outFeatures: 2 * inter, accumulateInput: true)
        }
        timed("rms backward") { rmsNormBackward(dz, dz, saved.hidden.pointer, saved.rstd1.pointer, rows: rows, dim: dim) }
        timed("linear o backward") {
            linearBackward(dAttention, gradient + weights.output, nil, dz, saved.attention.pointer, w + weights.output, rows: rows, inFeatures: dim, outFeatures: dim)
        }
        timed("attention backward") { attentionBackward(dQKV, dAttention, saved.qkv.pointer, scratch: g.attention, batch: batch, seq: g.seq, heads: heads, headDim: headDim) }
        timed("rope backward") { rope(dQKV, inverse: true, batch: batch, geometry: g) }
        timed("linear qkv backward") {
            linearBackward(dz, gradient + weights.qkv, nil, dQKV, saved.input.pointer, w + weights.qkv, rows: rows, inFeatures: dim, outFeatures: 3 * dim, accumulateInput: true)
        }
    }

    /// Backward of one network application: dz holds d output on entry and d(z + injection) on exit,
    /// which is the gradient of both the state it updated and its injection.
    @_specialize(where T == Float)
    func networkBackward(_ dz: UnsafeMutablePointer<T>, saved: NetworkActivations<T>, batch: Int, geometry g: StepGeometry<T>) {
        for index in stride(from: network.count - 1, through: 0, by: -1) {
            blockBackward(dz, weights: network[index], saved: saved.blocks[index], batch: batch, geometry: g)
        }
    }

    /// Backward of the last innerStep(withGradient: true) (or lastCycleOnly) given dlogits
    /// [batch, tokensPerExample, vocab] and dq [batch, 2]. Goes through the whole recorded cycle:
    /// the answer update, then the latent updates from last to first. Accumulates into `gradients`;
    /// writes `puzzleGradients` [batch, ndim] per slot. Nothing flows into the carry it started from.
    @_specialize(where T == Float)
    public func backward(dlogits: UnsafePointer<T>, dq: UnsafePointer<T>, batch: Int) {
        precondition(hasSavedActivations && batch == savedBatch, "backward: call innerStep(withGradient: true) with batch \(batch) first")
        guard let g = savedGeometry, let recorded = self.recorded else { preconditionFailure("backward: no recorded step") }
        let seq = g.seq
        let w = parameters.values.pointer
        let gradient = gradients.pointer
        let dz = backwardScratch.stream.pointer
        let zH = recorded.answerUpdate.blocks[recorded.answerUpdate.blocks.count - 1].output.pointer
        timed("lm_head backward") {
            for b in 0..<batch {
                let slot = dz + b * seq * dim
                for j in 0..<(puzzleTokens * dim) { slot[j] = 0 }
                linearBackward(slot + puzzleTokens * dim, gradient + offsets.lmHead, nil, dlogits + b * g.tokens * vocab, zH + (b * seq + puzzleTokens) * dim,
                               w + offsets.lmHead, rows: g.tokens, inFeatures: dim, outFeatures: vocab)
            }
            let dFirst = backwardScratch.firstTokens.pointer
            linearBackward(dFirst, gradient + offsets.qWeight, gradient + offsets.qBias, dq, savedFirstTokens.pointer, w + offsets.qWeight, rows: batch, inFeatures: dim, outFeatures: 2)
            for b in 0..<batch {
                let row = dz + b * seq * dim
                for j in 0..<dim { row[j] += dFirst[b * dim + j] }
            }
        }
        // Answer update zH' = net(zH + zL): zH entered the cycle without gradient, so d(zH + zL)
        // is d zL after the last latent update.
        networkBackward(dz, saved: recorded.answerUpdate, batch: batch, geometry: g)
        // Latent updates zL' = net(zL + zH + x), last to first: each d(zL + zH + x) is added to d x
        // and is d zL of the previous update (zH has no gradient path; the first zL is the carry's).
        let count = batch * seq * dim
        let dx = inputGradient.pointer
        for j in 0..<count { dx[j] = 0 }
        for update in recorded.latentUpdates.reversed() {
            networkBackward(dz, saved: update, batch: batch, geometry: g)
            timed("residual+rms") { addInPlace(dx, dz, count: count) }
        }
        timed("embedding backward") {
            savedInputs.withUnsafeBufferPointer { ip in
                inputEmbeddingBackward(gradient + offsets.tokens, ndim > 0 ? puzzleGradients.pointer : nil, dx, ip.baseAddress!,
                                       batch: batch, tokens: g.tokens, puzzleTokens: puzzleTokens, ndim: ndim, dim: dim,
                                       scale: T(Double(dim).squareRoot()))
            }
        }
    }

    /// Sums the per-slot puzzle gradients into a full-table gradient [N+1, ndim] (for tests).
    func puzzleTableGradient(batch: Int) -> Tensor<T> {
        let table = Tensor<T>(shape: [config.numPuzzleIdentifiers + 1, max(1, ndim)])
        for b in 0..<batch {
            let row = Int(savedPuzzleIdentifiers[b])
            for j in 0..<ndim { table[row * ndim + j] += puzzleGradients[b * ndim + j] }
        }
        return table
    }
}
