// ReasoningModel: what HRM (docs/SPEC.md §4) and TRM (§9) share, on the CPU: the post-norm block
// (attention with RoPE, SwiGLU, weightless RMSNorm) and its backward, the embeddings, the heads
// logits = lm_head(zH)[P:] and (q_halt, q_continue) = q_head(zH[0]), the inner step's frame
// (embed, the cycles without gradient, the recorded part, the heads) and the backward's frame
// (heads, the recorded part, embeddings), and every work buffer. A subclass says what a cycle
// is and what it records: HRMModel (HRMModel.swift: two modules, the 1-step gradient) and
// TRMModel (TRM/TRMModel.swift: one network, the last cycle in full). `make(config:maxBatch:)`
// picks the subclass of config.architecture. Generic over the scalar: Float in production, Double
// for finite-difference tests.
//
// Public API used by the trainer / predictor (T = Float in production):
//   let config = try HRMConfig.preset(named: "cpu")  // or ModelPreset.paper.config(for: .trm); try config.validate()
//   KernelThreads.configure(threads: 0)               // 0 = all cores (OpenBLAS runs 1 thread per worker)
//   let model = ReasoningModel<Float>.make(config: config, maxBatch: b)   // arena allocated, weights zero
//   model.parameters.initialize(seed: s)                          // spec init (puzzle table zeros)
//   try model.load(from: url) / try model.save(to: url, metadata: [...])   (Checkpoint.swift)
//   let carry = ReasoningCarry<Float>(config: config, batch: b)       // the full canvas: seqLen tokens
//   try ReasoningCarry<Float>.validateSide(s, config: config)          // then, for a size-bucketed batch:
//   let small = ReasoningCarry<Float>(config: config, batch: b, side: s) // the top-left s x s crop of the
//     W x W canvas (seqLen = W*W): s*s tokens per example, each at its canvas position for RoPE
//   carry.reset(slot: i, model: model) / carry.resetAll(model: model)       // zH = H_init, zL = L_init
//   model.innerStep(carry: carry, inputs: [Int32] (b*carry.tokensPerExample), puzzleIdentifiers: [Int32] (b), withGradient: Bool)
//     (or the UnsafePointer overload with batch:) -> model.logits [b, carry.tokensPerExample, vocab] from the buffer start,
//     model.qLogits [b, 2] (column 0 = q_halt, 1 = q_continue); the carry is updated in place.
//     Outputs are overwritten by the next innerStep; the activations saved by a withGradient step
//     stay valid for backward across later no-gradient steps (e.g. the ACT target step).
//   model.qHeadStep(carry:, inputs:, puzzleIdentifiers:, batch:, qLogits: ptr [b*2]): one more no-gradient
//     inner step that runs only the Q head into the caller's buffer (the ACT Q-continue target): model.logits,
//     model.qLogits and the saved activations keep the previous step's values. Give it a copy of the carry:
//     HRM's last block then computes only each example's first position, so zH is valid there only.
//   Losses (Kernels), read from and written to the model's own buffers in place:
//     sequenceStablemaxLoss(model.logitGradients, model.logits, labels, batch:, tokens:, vocab:, ignoreLabel:,
//     gradientScale: 1/globalBatch, counts:) and binaryCrossEntropyWithLogits(model.qLogitGradients (+1 for continue),
//     model.qLogits (+1), stride: 2, ...).
//   model.zeroGradients(); model.backward(dlogits: ptr [b*tokensPerExample*vocab], dq: ptr [b*2], batch: b)
//     (the geometry of the recorded step: tokensPerExample of the carry it ran on)
//     -> model.gradients: trainable part of the arena (offsets = model.parameters.layout entries),
//        model.puzzleGradients [b, ndim] per slot for model.lastPuzzleIdentifiers (duplicates NOT summed;
//        tests use the internal puzzleTableGradient(batch:) for the dense per-identifier sum).
//   Optimizers (Kernels): adamATan2Step(values+offset, m, v, gradients+offset, count:, step:, learningRate:,
//     beta1:, beta2:, weightDecay:) per trainable tensor; sparseSignSGDStep(puzzle table, ..., identifiers,
//     puzzleGradients, slots: b, learningRate:, weightDecay:).
//   model.profiler = KernelProfiler() collects per-kernel wall times.
import Dispatch
import Kernels

/// Activations of one block saved for its backward.
struct BlockActivations<T: KernelScalar> {
    let input: Tensor<T>      // [R, D] block input (qkv linear input)
    let qkv: Tensor<T>        // [R, 3D] after RoPE
    let attention: Tensor<T>  // [R, D] attention output (o_proj input)
    let hidden: Tensor<T>     // [R, D] after the first rms (mlp input)
    let rstd1: Tensor<T>      // [R]
    let gateUp: Tensor<T>     // [R, 2I]
    let activation: Tensor<T> // [R, I]
    let output: Tensor<T>     // [R, D] block output (after the second rms)
    let rstd2: Tensor<T>      // [R]
    let logSumExp: Tensor<T>  // [R * heads] the attention's row log-sum-exp ([batch, heads, seq])

    init(rows: Int, dim: Int, inter: Int, heads: Int) {
        input = Tensor(shape: [rows, dim]); qkv = Tensor(shape: [rows, 3 * dim]); attention = Tensor(shape: [rows, dim])
        hidden = Tensor(shape: [rows, dim]); rstd1 = Tensor(shape: [rows]); gateUp = Tensor(shape: [rows, 2 * inter])
        activation = Tensor(shape: [rows, inter]); output = Tensor(shape: [rows, dim]); rstd2 = Tensor(shape: [rows])
        logSumExp = Tensor(shape: [rows * heads])
    }
}

/// Gradient scratch of the backward pass, sized for maxBatch x the full sequence and allocated on
/// the first backward (an inference-only model never pays for it).
struct BackwardScratch<T: KernelScalar> {
    let stream: Tensor<T>       // [R, D] d of the residual stream, carried from block to block
    let activation: Tensor<T>   // [R, I] d of the SwiGLU output
    let gateUp: Tensor<T>       // [R, gateUpStride] d of the gate|up projection (2I columns used)
    /// Row stride of gateUp: 2I, padded when 2I elements are a multiple of 4 KB (aliasFreeRowStride)
    /// for the fp32 chunked backward; the bf16 path uses the packed stride 2I.
    let gateUpStride: Int
    let attention: Tensor<T>    // [R, D] d of the attention output
    let qkv: Tensor<T>          // [R, 3D] d of the rotated q|k|v
    let firstTokens: Tensor<T>  // [B, D] d of zH at the first position, from the q head

    init(rows: Int, batch: Int, dim: Int, inter: Int) {
        gateUpStride = aliasFreeRowStride(columns: 2 * inter, of: T.self)
        stream = Tensor(shape: [rows, dim]); activation = Tensor(shape: [rows, inter]); gateUp = Tensor(shape: [rows, gateUpStride])
        attention = Tensor(shape: [rows, dim]); qkv = Tensor(shape: [rows, 3 * dim]); firstTokens = Tensor(shape: [batch, dim])
    }
}

/// Offsets of one block's weights in the arena.
struct BlockWeights {
    let qkv: Int, output: Int, gateUp: Int, down: Int
}

/// Sequences (puzzle tokens included) shorter than this run the blocked attention kernel
/// (Attention.swift), longer ones the flash kernel (FlashAttention.swift). Measured with
/// `arc-bench micro` on one thread (AMD EPYC Zen 1, oneDNN matmuls; BENCHMARKS.md), flash against
/// blocked, forward + backward: 0.92x at S 145 (12x12 canvas), 1.03x at S 257, 1.15x at S 901.
public let flashAttentionMinimumSequence = 200

/// Tests only: a bf16 attention build (an emulated one of KernelsLanes16, or one wrapped to count its calls)
/// that models run whatever their matmul precision (in steps with gradient only if it is trainable), and
/// that models created while it is set size their attention scratch for. Production leaves it nil (then:
/// FlashAttentionBuild.bf16 under native bf16 matmuls, .emulatedBF16 under emulated ones).
nonisolated(unsafe) var bf16AttentionForTests: FlashAttentionBuild? = nil

/// The sequence geometry of one inner step, from its carry: grid tokens per example, rows per slot,
/// RoPE positions per row (nil = 0 ..< seq), and the attention scratch for that length (the blocked
/// kernel's too when the sequence is short enough to run it).
struct StepGeometry<T: KernelScalar> {
    let side: Int?
    let tokens: Int
    let seq: Int
    let positions: [Int32]?
    let attention: AttentionScratch<T>
    let blockedAttention: BlockedAttentionScratch<T>?

    init(side: Int?, tokens: Int, seq: Int, positions: [Int32]?, headDim: Int) {
        self.side = side
        self.tokens = tokens
        self.seq = seq
        self.positions = positions
        attention = AttentionScratch(seq: seq, headDim: headDim, extraBuilds: bf16AttentionForTests.map { [$0] } ?? [])
        blockedAttention = seq < flashAttentionMinimumSequence ? BlockedAttentionScratch(seq: seq) : nil
    }
}

public class ReasoningModel<T: KernelScalar>: @unchecked Sendable {
    public let config: HRMConfig
    public var parameters: ParameterArena<T>
    /// d loss / d parameter for the trainable part of the arena (same offsets). Accumulated by backward.
    /// Allocated on first use, so an inference-only model does not pay for it.
    public private(set) lazy var gradients: Tensor<T> = Tensor(shape: [parameters.layout.trainableCount])
    /// d loss / d puzzle row, per batch slot [maxBatch, ndim] (overwritten by backward).
    public let puzzleGradients: Tensor<T>
    /// Outputs of the last inner step: logits [maxBatch, seqLen, vocab], q logits [maxBatch, 2].
    public let logits: Tensor<T>
    public let qLogits: Tensor<T>
    /// d loss / d logits and d loss / d q logits, the same shapes: where a trainer's loss writes the
    /// gradients `backward` starts from. Allocated on first use, like `gradients`.
    public private(set) lazy var logitGradients: Tensor<T> = Tensor(shape: [maxBatch, config.seqLen, vocab])
    public private(set) lazy var qLogitGradients: Tensor<T> = Tensor(shape: [maxBatch, 2])
    public let maxBatch: Int
    public var profiler: KernelProfiler?
    /// Runs the flash attention kernel at every sequence length (tests: the model's golden and
    /// gradient checks through both kernels). Set before the first step, not between a step and its backward.
    public var alwaysFlashAttention = false
    /// bf16 operands with fp32 accumulation for the linear layers (qkv, o, gate_up, down, lm_head;
    /// BF16Matmul.swift), or nil for fp32. Taken from KernelPrecision when the model is made; only a
    /// Float model uses it. The q head (2 outputs) stays fp32.
    public var bf16Matmul: BF16Matmul?
    /// Rows per chunk of the fp32 block's chunked projections and backward row steps
    /// (linearForwardChunked, forEachRowChunk). Tests vary it; the result differs only by the gemm's rounding.
    public var rowChunk = linearEpilogueChunkRows
    lazy var bf16Workspace = BF16Workspace()

    let dim: Int, heads: Int, headDim: Int, inter: Int, seq: Int, puzzleTokens: Int, ndim: Int, vocab: Int
    let maxRows: Int
    let rotary: RotaryTable<T>
    let offsets: (tokens: Int, lmHead: Int, qWeight: Int, qBias: Int)

    // Work buffers, [maxRows, ...]
    let inputEmbedding: Tensor<T>
    let injection: Tensor<T>
    let puzzleRows: Tensor<T>
    let qkvScratch: Tensor<T>, attentionScratchBuffer: Tensor<T>, projection: Tensor<T>
    let gateUpScratch: Tensor<T>, activationScratch: Tensor<T>, rstdScratch: Tensor<T>
    /// The attention's row log-sum-exp of a block that saves nothing, [maxRows * heads].
    let logSumExpScratch: Tensor<T>
    /// Geometry of the full sequence (side nil), and of each side seen so far (made on first use).
    let fullGeometry: StepGeometry<T>
    var sideGeometries: [Int: StepGeometry<T>] = [:]
    let firstTokens: Tensor<T>
    /// [maxBatch, D]: the first rows of a block run by blockForwardFirstTokens.
    let firstRows: Tensor<T>
    /// Set while qHeadStep runs: the recorded update's last block computes only the first rows (HRMModel;
    /// TRMModel ignores it and runs its blocks in full).
    var firstTokensOnly = false
    let savedFirstTokens: Tensor<T>
    // Inputs [maxBatch * seqLen] and puzzle identifiers [maxBatch] of the recorded step, its first
    // savedBatch slots valid (allocated on the first step with gradient, then overwritten in place).
    var savedInputs: [Int32] = []
    var savedPuzzleIdentifiers: [Int32] = []
    var savedBatch = 0
    var savedGeometry: StepGeometry<T>?
    /// The bf16 attention build the recorded blocks' forward ran (nil: the fp32 kernels): their backward runs it
    /// too, whatever the precision settings are by then.
    var savedAttention: FlashAttentionBuild?
    var hasSavedActivations = false
    /// The puzzle identifiers of the recorded step (a new array: for tests and diagnostics).
    public var lastPuzzleIdentifiers: [Int32] { Array(savedPuzzleIdentifiers.prefix(savedBatch)) }
    // Backward scratch (allocated on first backward)
    lazy var backwardScratch = BackwardScratch<T>(rows: maxRows, batch: maxBatch, dim: dim, inter: inter)

    /// The model of `config.architecture` (HRMModel or TRMModel); the config must be valid.
    public static func make(config: HRMConfig, maxBatch: Int) -> ReasoningModel<T> {
        switch config.architecture {
        case .hrm: return HRMModel<T>(config: config, maxBatch: maxBatch)
        case .trm: return TRMModel<T>(config: config, maxBatch: maxBatch)
        }
    }

    /// The shared part; subclasses add their blocks' offsets and recordings.
    init(config: HRMConfig, maxBatch: Int) {
        self.config = config
        self.maxBatch = maxBatch
        dim = config.hiddenSize; heads = config.numHeads; headDim = config.headDim; inter = config.intermediateSize
        seq = config.totalLength; puzzleTokens = config.puzzleTokens; ndim = config.puzzleEmbeddingDim; vocab = config.vocabSize
        maxRows = maxBatch * seq
        parameters = ParameterArena(config: config)
        let layout = parameters.layout
        puzzleGradients = Tensor(shape: [maxBatch, max(1, ndim)])
        logits = Tensor(shape: [maxBatch, config.seqLen, vocab])
        qLogits = Tensor(shape: [maxBatch, 2])
        rotary = RotaryTable(sequenceLength: seq, headDim: headDim, theta: config.ropeTheta)
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
        logSumExpScratch = Tensor(shape: [maxRows * heads])
        fullGeometry = StepGeometry(side: nil, tokens: config.seqLen, seq: seq, positions: nil, headDim: headDim)
        firstTokens = Tensor(shape: [maxBatch, dim])
        firstRows = Tensor(shape: [maxBatch, dim])
        savedFirstTokens = Tensor(shape: [maxBatch, dim])
        bf16Matmul = T.self == Float.self ? KernelPrecision.matmul : nil
    }

    /// The arena offsets of the blocks `<level>.layers.0 ..< count` of `layout`.
    static func blockWeights(_ layout: ParameterLayout, level: String, count: Int) -> [BlockWeights] {
        (0..<count).map { layer in
            let base = ParameterLayout.prefix + "\(level).layers.\(layer)."
            return BlockWeights(
                qkv: layout[base + "self_attn.qkv_proj.weight"].offset, output: layout[base + "self_attn.o_proj.weight"].offset,
                gateUp: layout[base + "mlp.gate_up_proj.weight"].offset, down: layout[base + "mlp.down_proj.weight"].offset)
        }
    }

    // MARK: what a subclass defines

    /// The cycles without gradient on the carry (inputEmbedding set by embed).
    func runNoGradientCycles(carry: ReasoningCarry<T>, batch: Int, geometry g: StepGeometry<T>) {
        preconditionFailure("ReasoningModel.runNoGradientCycles: defined by HRMModel and TRMModel")
    }

    /// The differentiated part of the step on the carry (inputEmbedding set by embed), its activations
    /// saved when `record`.
    func recordedUpdates(carry: ReasoningCarry<T>, batch: Int, geometry g: StepGeometry<T>, record: Bool) {
        preconditionFailure("ReasoningModel.recordedUpdates: defined by HRMModel and TRMModel")
    }

    /// zH after the recorded step, [savedBatch * g.seq, D] (what the heads read).
    func recordedAnswer() -> UnsafePointer<T> {
        preconditionFailure("ReasoningModel.recordedAnswer: defined by HRMModel and TRMModel")
    }

    /// Backward of the recorded updates: dz holds d zH (from the heads) on entry; returns where
    /// d x (the input embedding's gradient, [batch * g.seq, D]) is.
    func recordedBackward(_ dz: UnsafeMutablePointer<T>, batch: Int, geometry g: StepGeometry<T>) -> UnsafeMutablePointer<T> {
        preconditionFailure("ReasoningModel.recordedBackward: defined by HRMModel and TRMModel")
    }

    @inline(__always)
    func timed<R>(_ name: String, _ body: () -> R) -> R {
        if let profiler { return profiler.measure(name, body) }
        return body()
    }

    /// The geometry of a step on `carry` (the carry must have been made for this model's config).
    func geometry(for carry: ReasoningCarry<T>) -> StepGeometry<T> {
        precondition(carry.dim == dim && carry.puzzleTokens == puzzleTokens, "carry made for another config (D \(carry.dim), P \(carry.puzzleTokens); model D \(dim), P \(puzzleTokens))")
        guard let side = carry.side else {
            precondition(carry.tokensPerExample == config.seqLen, "carry has \(carry.tokensPerExample) tokens, model seqLen \(config.seqLen)")
            return fullGeometry
        }
        if let known = sideGeometries[side] { return known }
        precondition((try? ReasoningCarry<T>.validateSide(side, config: config)) != nil, "carry side \(side) is not valid for seqLen \(config.seqLen)")
        let tokens = side * side
        let made = StepGeometry<T>(side: side, tokens: tokens, seq: puzzleTokens + tokens,
                                   positions: ReasoningCarry<T>.positions(side: side, config: config), headDim: headDim)
        sideGeometries[side] = made
        return made
    }

    /// The bf16 attention build blockForward / blockBackward run on geometry g (nil: the fp32 kernels): the
    /// tests' hook, else with bf16 matmuls FlashAttentionBuild.bf16 (native) or .emulatedBF16 (emulated),
    /// where the scratch takes it.
    func bf16Attention(_ g: StepGeometry<T>) -> FlashAttentionBuild? {
        let chosen = bf16Matmul.flatMap { $0.isNative ? FlashAttentionBuild.bf16 : FlashAttentionBuild.emulatedBF16 }
        guard let build = bf16AttentionForTests ?? chosen, g.attention.runs(build) else { return nil }
        return build
    }

    /// body(the geometry's RoPE positions, nil for 0 ..< seq).
    @inline(__always)
    func withPositions<R>(_ g: StepGeometry<T>, _ body: (UnsafePointer<Int32>?) -> R) -> R {
        guard let positions = g.positions else { return body(nil) }
        return positions.withUnsafeBufferPointer { body($0.baseAddress) }
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

    func checkBatch(_ batch: Int, carry: ReasoningCarry<T>, _ caller: String) {
        precondition(batch >= 1 && batch <= maxBatch && batch <= carry.batch, "\(caller): batch \(batch) outside 1...min(model \(maxBatch), carry \(carry.batch))")
    }

    /// A linear layer without bias (linearForward), in bf16 when `bf16Matmul` is set.
    @inline(__always)
    func linear(_ out: UnsafeMutablePointer<T>, _ inp: UnsafePointer<T>, _ weight: UnsafePointer<T>, rows: Int, inFeatures: Int, outFeatures: Int) {
        if let matmul = bf16Matmul, T.self == Float.self {
            bf16LinearForward(Self.floats(out), Self.floats(inp), Self.floats(weight), nil, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures,
                              matmul: matmul, workspace: bf16Workspace)
        } else {
            linearForward(out, inp, weight, nil, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        }
    }

    /// linearBackward without bias, in bf16 when `bf16Matmul` is set.
    @inline(__always)
    func linearGradient(_ dinp: UnsafeMutablePointer<T>, _ dweight: UnsafeMutablePointer<T>, _ dout: UnsafePointer<T>, _ inp: UnsafePointer<T>,
                        _ weight: UnsafePointer<T>, rows: Int, inFeatures: Int, outFeatures: Int, accumulateInput: Bool = false) {
        if let matmul = bf16Matmul, T.self == Float.self {
            bf16LinearBackward(Self.floats(dinp), Self.floats(dweight), nil, Self.floats(dout), Self.floats(inp), Self.floats(weight),
                               rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, accumulateInput: accumulateInput,
                               matmul: matmul, workspace: bf16Workspace)
        } else {
            linearBackward(dinp, dweight, nil, dout, inp, weight, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, accumulateInput: accumulateInput)
        }
    }

    @inline(__always) static func floats(_ p: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> {
        UnsafeMutableRawPointer(p).assumingMemoryBound(to: Float.self)
    }
    @inline(__always) static func floats(_ p: UnsafePointer<T>) -> UnsafePointer<Float> {
        UnsafeRawPointer(p).assumingMemoryBound(to: Float.self)
    }

    // MARK: forward

    /// Embeds inputs [batch, g.tokens] and puzzle identifiers [batch] into inputEmbedding.
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
        // fp32: each projection a chunk of rows at a time with its element-wise step right after it, on
        // the rows still in cache (linearForwardChunked); bf16 runs the steps one after the other.
        let chunked = bf16Matmul == nil
        let epsilon = T(config.rmsNormEpsilon)
        let rstd1 = save?.rstd1.pointer ?? rstdScratch.pointer, rstd2 = save?.rstd2.pointer ?? rstdScratch.pointer
        if chunked {
            timed("linear qkv + rope") {
                withPositions(g) { positions in
                    linearForwardChunked(qkv, z, w + weights.qkv, rows: rows, inFeatures: dim, outFeatures: 3 * dim, chunkRows: rowChunk) { range in
                        ropeApplyRows(qkv, table: rotary, positions: positions, inverse: false, rows: range, seq: g.seq, heads: heads, headDim: headDim)
                    }
                }
            }
        } else {
            timed("linear qkv") { linear(qkv, z, w + weights.qkv, rows: rows, inFeatures: dim, outFeatures: 3 * dim) }
            timed("rope") { rope(qkv, inverse: false, batch: batch, geometry: g) }
        }
        let logSumExp = save?.logSumExp.pointer ?? logSumExpScratch.pointer
        timed("attention") {
            if let blocked = g.blockedAttention, !alwaysFlashAttention {
                blockedAttentionForward(attention, qkv, scratch: blocked, batch: batch, seq: g.seq, heads: heads, headDim: headDim)
            } else if let bf16 = bf16Attention(g), save == nil || bf16.trainable {
                // bf16 products (the matmuls are bf16 here too); a step that keeps activations only with a
                // trainable build, whose backward recomputes the softmax this forward computes
                if save != nil { savedAttention = bf16 }
                attentionForward(attention, logSumExp: logSumExp, qkv, scratch: g.attention, batch: batch, seq: g.seq, heads: heads, headDim: headDim,
                                 build: bf16)
            } else {
                if save != nil { savedAttention = nil }
                attentionForward(attention, logSumExp: logSumExp, qkv, scratch: g.attention, batch: batch, seq: g.seq, heads: heads, headDim: headDim)
            }
        }
        let projected = projection.pointer
        if chunked {
            timed("linear o + residual+rms") {
                linearForwardChunked(projected, attention, w + weights.output, rows: rows, inFeatures: dim, outFeatures: dim, chunkRows: rowChunk) { range in
                    residualRMSNormRows(z, rstd1, residual: projected, rows: range, dim: dim, epsilon: epsilon)
                }
            }
        } else {
            timed("linear o") { linear(projected, attention, w + weights.output, rows: rows, inFeatures: dim, outFeatures: dim) }
            timed("residual+rms") {
                addInPlace(z, projected, count: rows * dim)
                rmsNormForward(z, rstd1, z, rows: rows, dim: dim, epsilon: epsilon)
            }
        }
        if let save { save.hidden.pointer.update(from: z, count: rows * dim) }
        if chunked {
            timed("linear gate_up + swiglu") {
                linearForwardChunked(gateUp, z, w + weights.gateUp, rows: rows, inFeatures: dim, outFeatures: 2 * inter, chunkRows: rowChunk) { range in
                    for row in range {
                        let gate = gateUp + row * 2 * inter
                        T.siluProductInPlace(activation + row * inter, gate, gate + inter, count: inter)
                    }
                }
            }
            timed("linear down + residual+rms") {
                linearForwardChunked(projected, activation, w + weights.down, rows: rows, inFeatures: inter, outFeatures: dim, chunkRows: rowChunk) { range in
                    residualRMSNormRows(z, rstd2, residual: projected, rows: range, dim: dim, epsilon: epsilon)
                }
            }
        } else {
            timed("linear gate_up") { linear(gateUp, z, w + weights.gateUp, rows: rows, inFeatures: dim, outFeatures: 2 * inter) }
            timed("swiglu") { swiGLUForward(activation, gateUp, rows: rows, inter: inter) }
            timed("linear down") { linear(projected, activation, w + weights.down, rows: rows, inFeatures: inter, outFeatures: dim) }
            timed("residual+rms") {
                addInPlace(z, projected, count: rows * dim)
                rmsNormForward(z, rstd2, z, rows: rows, dim: dim, epsilon: epsilon)
            }
        }
        if let save { save.output.pointer.update(from: z, count: rows * dim) }
    }

    /// One application of a stack of blocks in place on z: z = z + injection, then the blocks in
    /// order (HRM's module, TRM's network); saves each block's activations when `save` is given.
    /// With `lastBlockFirstTokens` (no saving) the last block computes only each example's first row.
    @_specialize(where T == Float)
    func blocksForward(_ z: UnsafeMutablePointer<T>, injection inj: UnsafePointer<T>, weights: [BlockWeights], batch: Int, geometry g: StepGeometry<T>,
                       save: [BlockActivations<T>]?, lastBlockFirstTokens: Bool = false) {
        precondition(!(lastBlockFirstTokens && save != nil), "blocksForward: a first-row-only block saves no activations")
        timed("residual+rms") { addInPlace(z, inj, count: batch * g.seq * dim) }
        for (index, block) in weights.enumerated() {
            if lastBlockFirstTokens && index == weights.count - 1 {
                blockForwardFirstTokens(z, weights: block, batch: batch, geometry: g)
            } else {
                blockForward(z, weights: block, batch: batch, geometry: g, save: save?[index])
            }
        }
    }

    /// One block in place on the first row of each example of z [batch * seq, D] only (the other rows
    /// are left as they were, i.e. not computed): keys and values come from every row, the query, the
    /// output projection and the MLP run for row 0 alone. What the Q head reads (zH[:, 0]) is then the
    /// same as after blockForward, up to the order of floating-point sums.
    @_specialize(where T == Float)
    func blockForwardFirstTokens(_ z: UnsafeMutablePointer<T>, weights: BlockWeights, batch: Int, geometry g: StepGeometry<T>) {
        let rows = batch * g.seq
        let w = parameters.values.pointer
        let qkv = qkvScratch.pointer, attention = attentionScratchBuffer.pointer, first = firstRows.pointer
        let gateUp = gateUpScratch.pointer, activation = activationScratch.pointer, epsilon = T(config.rmsNormEpsilon)
        timed("linear qkv") { linear(qkv, z, w + weights.qkv, rows: rows, inFeatures: dim, outFeatures: 3 * dim) }
        timed("rope") { rope(qkv, inverse: false, batch: batch, geometry: g) }
        timed("attention") {
            firstQueryAttentionForward(attention, qkv, scores: logSumExpScratch.pointer, batch: batch, seq: g.seq, heads: heads, headDim: headDim)
        }
        for b in 0..<batch { (first + b * dim).update(from: z + b * g.seq * dim, count: dim) }
        timed("linear o") { linear(projection.pointer, attention, w + weights.output, rows: batch, inFeatures: dim, outFeatures: dim) }
        timed("residual+rms") {
            addInPlace(first, projection.pointer, count: batch * dim)
            rmsNormForward(first, rstdScratch.pointer, first, rows: batch, dim: dim, epsilon: epsilon)
        }
        timed("linear gate_up") { linear(gateUp, first, w + weights.gateUp, rows: batch, inFeatures: dim, outFeatures: 2 * inter) }
        timed("swiglu") { swiGLUForward(activation, gateUp, rows: batch, inter: inter) }
        timed("linear down") { linear(projection.pointer, activation, w + weights.down, rows: batch, inFeatures: inter, outFeatures: dim) }
        timed("residual+rms") {
            addInPlace(first, projection.pointer, count: batch * dim)
            rmsNormForward(first, rstdScratch.pointer, first, rows: batch, dim: dim, epsilon: epsilon)
        }
        for b in 0..<batch { (z + b * g.seq * dim).update(from: first + b * dim, count: dim) }
    }

    /// injection = a + b
    @_specialize(where T == Float)
    func setInjection(_ a: UnsafePointer<T>, _ b: UnsafePointer<T>, batch: Int, geometry g: StepGeometry<T>) {
        let n = batch * g.seq * dim
        let out = SendablePointer(injection.pointer), pa = SendablePointer(UnsafeMutablePointer(mutating: a)), pb = SendablePointer(UnsafeMutablePointer(mutating: b))
        parallelChunks(n) { range in
            for i in range { out.pointer[i] = pa.pointer[i] + pb.pointer[i] }
        }
    }

    /// The recorded part of the step from the current carry (inputEmbedding set by embed), then the
    /// heads. Saves activations when withGradient. With `qLogitsOnly` (no gradient) only the Q head
    /// runs, into that buffer.
    @_specialize(where T == Float)
    func gradientStep(carry: ReasoningCarry<T>, batch: Int, geometry g: StepGeometry<T>, withGradient: Bool,
                      qLogitsOnly: UnsafeMutablePointer<T>? = nil) {
        precondition(!(withGradient && qLogitsOnly != nil), "gradientStep: a Q-head-only step records no gradient")
        recordedUpdates(carry: carry, batch: batch, geometry: g, record: withGradient)
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
                    linear(logits.pointer + b * g.tokens * vocab, zH + (b * g.seq + puzzleTokens) * dim, w + offsets.lmHead,
                           rows: g.tokens, inFeatures: dim, outFeatures: vocab)
                }
            }
            for b in 0..<batch { (firstTokens.pointer + b * dim).update(from: zH + b * g.seq * dim, count: dim) }
            linearForward(destination, firstTokens.pointer, w + offsets.qWeight, w + offsets.qBias, rows: batch, inFeatures: dim, outFeatures: 2)
        }
    }

    /// One inner step on the carry for `batch` slots: inputs [batch, carry.tokensPerExample] tokens, puzzleIdentifiers [batch].
    /// Writes logits/qLogits and updates the carry in place (the new carry is detached by construction).
    /// With withGradient the recorded part's activations are kept for `backward`.
    @_specialize(where T == Float)
    public func innerStep(carry: ReasoningCarry<T>, inputs: UnsafePointer<Int32>, puzzleIdentifiers: UnsafePointer<Int32>, batch: Int, withGradient: Bool) {
        checkBatch(batch, carry: carry, "innerStep")
        let g = geometry(for: carry)
        embed(inputs: inputs, puzzleIdentifiers: puzzleIdentifiers, batch: batch, geometry: g)
        if withGradient {
            // Outputs (logits, qLogits) are overwritten by the next innerStep; the saved activations stay
            // valid for `backward` across later no-gradient steps (e.g. the ACT target step).
            saveStepInputs(inputs, puzzleIdentifiers, count: batch * g.tokens, batch: batch)
        }
        runNoGradientCycles(carry: carry, batch: batch, geometry: g)
        gradientStep(carry: carry, batch: batch, geometry: g, withGradient: withGradient)
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

    /// One more no-gradient inner step on `carry` (updated in place) that runs only the Q head: writes
    /// (q_halt, q_continue) per slot to `destination` [batch, 2] and skips the lm head. Its last
    /// block (HRM: the H module's) computes only the first position of each example, the one the
    /// Q head reads, so the carry's zH is valid at that position only afterwards (zL in full). The model's
    /// `logits` and `qLogits` keep the previous step's outputs and the saved activations stay valid for
    /// `backward`: the ACT trainer's Q-continue target step (docs/SPEC.md §5).
    @_specialize(where T == Float)
    public func qHeadStep(carry: ReasoningCarry<T>, inputs: UnsafePointer<Int32>, puzzleIdentifiers: UnsafePointer<Int32>, batch: Int,
                          qLogits destination: UnsafeMutablePointer<T>) {
        checkBatch(batch, carry: carry, "qHeadStep")
        let g = geometry(for: carry)
        embed(inputs: inputs, puzzleIdentifiers: puzzleIdentifiers, batch: batch, geometry: g)
        runNoGradientCycles(carry: carry, batch: batch, geometry: g)
        firstTokensOnly = true
        defer { firstTokensOnly = false }
        gradientStep(carry: carry, batch: batch, geometry: g, withGradient: false, qLogitsOnly: destination)
    }

    /// Array convenience for innerStep.
    public func innerStep(carry: ReasoningCarry<T>, inputs: [Int32], puzzleIdentifiers: [Int32], withGradient: Bool) {
        let batch = puzzleIdentifiers.count
        precondition(inputs.count == batch * carry.tokensPerExample, "innerStep: \(inputs.count) input tokens for batch \(batch) x \(carry.tokensPerExample) tokens per example")
        inputs.withUnsafeBufferPointer { ip in
            puzzleIdentifiers.withUnsafeBufferPointer { pp in
                innerStep(carry: carry, inputs: ip.baseAddress!, puzzleIdentifiers: pp.baseAddress!, batch: batch, withGradient: withGradient)
            }
        }
    }

    /// For tests: embeds array inputs on the carry's geometry (keeping them for backward when `save`);
    /// returns the batch and the geometry.
    func embedForTest(carry: ReasoningCarry<T>, inputs: [Int32], puzzleIdentifiers: [Int32], save: Bool, _ caller: String) -> (Int, StepGeometry<T>) {
        let batch = puzzleIdentifiers.count
        checkBatch(batch, carry: carry, caller)
        let g = geometry(for: carry)
        precondition(inputs.count == batch * g.tokens, "\(caller): \(inputs.count) tokens for batch \(batch) x \(g.tokens)")
        inputs.withUnsafeBufferPointer { ip in puzzleIdentifiers.withUnsafeBufferPointer { pp in
            embed(inputs: ip.baseAddress!, puzzleIdentifiers: pp.baseAddress!, batch: batch, geometry: g)
            if save { saveStepInputs(ip.baseAddress!, pp.baseAddress!, count: inputs.count, batch: batch) }
        } }
        return (batch, g)
    }

    /// For tests: embeds and runs only the cycles without gradient on the carry.
    func noGradientCycles(carry: ReasoningCarry<T>, inputs: [Int32], puzzleIdentifiers: [Int32]) {
        let (batch, g) = embedForTest(carry: carry, inputs: inputs, puzzleIdentifiers: puzzleIdentifiers, save: false, "noGradientCycles")
        runNoGradientCycles(carry: carry, batch: batch, geometry: g)
    }

    /// For tests that hold the no-gradient part fixed: only the recorded part and the heads from the given carry.
    func gradientStepOnly(carry: ReasoningCarry<T>, inputs: [Int32], puzzleIdentifiers: [Int32], withGradient: Bool) {
        let (batch, g) = embedForTest(carry: carry, inputs: inputs, puzzleIdentifiers: puzzleIdentifiers, save: withGradient, "gradientStepOnly")
        gradientStep(carry: carry, batch: batch, geometry: g, withGradient: withGradient)
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
        // fp32: the row-local steps between the dweight products run a chunk of rows at a time on each
        // worker (the chunk's intermediates stay in cache, as in blockForward); bf16 runs them in turn.
        let chunked = bf16Matmul == nil
        // z2 = rms(hidden + down(act)); dz -> d(hidden + down)
        timed("rms backward") { rmsNormBackward(dz, dz, saved.output.pointer, saved.rstd2.pointer, rows: rows, dim: dim) }
        if chunked {
            let stride = scratch.gateUpStride
            timed("linear down dweight") {
                linearWeightGradient(gradient + weights.down, dz, doutStride: dim, saved.activation.pointer, rows: rows, inFeatures: inter, outFeatures: dim)
            }
            // Per chunk: d act = dz W_down; d gate|up = swiglu backward; dz += d gate|up W_gu (the residual
            // keeps dz); dz = rms backward (z1 = rms(input + o(attention))); d attention = dz W_o.
            timed("mlp + o dinput (rows)") {
                forEachRowChunk(rows: rows, work: rows * dim * inter, chunkRows: rowChunk) { range in
                    linearInputGradientRows(dActivation, dz, doutStride: dim, w + weights.down, rows: range, inFeatures: inter, outFeatures: dim, accumulate: false)
                    swiGLUBackwardRows(dGateUp, stride: stride, dActivation, saved.gateUp.pointer, rows: range, inter: inter)
                    linearInputGradientRows(dz, dGateUp, doutStride: stride, w + weights.gateUp, rows: range, inFeatures: dim, outFeatures: 2 * inter, accumulate: true)
                    rmsNormBackwardRows(dz, dz, saved.hidden.pointer, saved.rstd1.pointer, rows: range, dim: dim)
                    linearInputGradientRows(dAttention, dz, doutStride: dim, w + weights.output, rows: range, inFeatures: dim, outFeatures: dim, accumulate: false)
                }
            }
            timed("linear gate_up dweight") {
                linearWeightGradient(gradient + weights.gateUp, dGateUp, doutStride: stride, saved.hidden.pointer, rows: rows, inFeatures: dim, outFeatures: 2 * inter)
            }
            timed("linear o dweight") {
                linearWeightGradient(gradient + weights.output, dz, doutStride: dim, saved.attention.pointer, rows: rows, inFeatures: dim, outFeatures: dim)
            }
        } else {
            timed("linear down backward") {
                linearGradient(dActivation, gradient + weights.down, dz, saved.activation.pointer, w + weights.down, rows: rows, inFeatures: inter, outFeatures: dim)
            }
            timed("swiglu backward") { swiGLUBackward(dGateUp, dActivation, saved.gateUp.pointer, rows: rows, inter: inter) }
            timed("linear gate_up backward") {
                // d hidden = residual (dz) + dGateUp W_gu
                linearGradient(dz, gradient + weights.gateUp, dGateUp, saved.hidden.pointer, w + weights.gateUp, rows: rows, inFeatures: dim, outFeatures: 2 * inter, accumulateInput: true)
            }
            timed("rms backward") { rmsNormBackward(dz, dz, saved.hidden.pointer, saved.rstd1.pointer, rows: rows, dim: dim) }
            timed("linear o backward") {
                linearGradient(dAttention, gradient + weights.output, dz, saved.attention.pointer, w + weights.output, rows: rows, inFeatures: dim, outFeatures: dim)
            }
        }
        timed("attention backward") {
            if let blocked = g.blockedAttention, !alwaysFlashAttention {
                blockedAttentionBackward(dQKV, dAttention, saved.qkv.pointer, scratch: blocked, batch: batch, seq: g.seq, heads: heads, headDim: headDim)
            } else if let bf16 = savedAttention {
                // the build the recorded forward ran
                attentionBackward(dQKV, dAttention, saved.attention.pointer, logSumExp: saved.logSumExp.pointer, saved.qkv.pointer,
                                  scratch: g.attention, batch: batch, seq: g.seq, heads: heads, headDim: headDim, build: bf16)
            } else {
                attentionBackward(dQKV, dAttention, saved.attention.pointer, logSumExp: saved.logSumExp.pointer, saved.qkv.pointer,
                                  scratch: g.attention, batch: batch, seq: g.seq, heads: heads, headDim: headDim)
            }
        }
        if chunked {
            // Per chunk: undo RoPE on d q|k, then dz += d qkv W_qkv (the residual keeps dz).
            timed("rope + qkv dinput (rows)") {
                withPositions(g) { positions in
                    forEachRowChunk(rows: rows, work: rows * dim * 3 * dim, chunkRows: rowChunk) { range in
                        ropeApplyRows(dQKV, table: rotary, positions: positions, inverse: true, rows: range, seq: g.seq, heads: heads, headDim: headDim)
                        linearInputGradientRows(dz, dQKV, doutStride: 3 * dim, w + weights.qkv, rows: range, inFeatures: dim, outFeatures: 3 * dim, accumulate: true)
                    }
                }
            }
            timed("linear qkv dweight") {
                linearWeightGradient(gradient + weights.qkv, dQKV, doutStride: 3 * dim, saved.input.pointer, rows: rows, inFeatures: dim, outFeatures: 3 * dim)
            }
        } else {
            timed("rope backward") { rope(dQKV, inverse: true, batch: batch, geometry: g) }
            timed("linear qkv backward") {
                linearGradient(dz, gradient + weights.qkv, dQKV, saved.input.pointer, w + weights.qkv, rows: rows, inFeatures: dim, outFeatures: 3 * dim, accumulateInput: true)
            }
        }
    }

    /// Backward of one application of a stack of blocks: dz holds d output on entry and d(z + injection)
    /// on exit, the gradient of both the state it updated and its injection.
    @_specialize(where T == Float)
    func blocksBackward(_ dz: UnsafeMutablePointer<T>, weights: [BlockWeights], saved: [BlockActivations<T>], batch: Int, geometry g: StepGeometry<T>) {
        for index in stride(from: weights.count - 1, through: 0, by: -1) {
            blockBackward(dz, weights: weights[index], saved: saved[index], batch: batch, geometry: g)
        }
    }

    /// Backward of the last innerStep(withGradient: true) given dlogits [batch, tokensPerExample, vocab]
    /// (the tokens per example of the carry that step ran on) and
    /// dq [batch, 2] (d loss / d (q_halt, q_continue)). Accumulates into `gradients`; writes
    /// `puzzleGradients` [batch, ndim] per slot. Nothing flows into the carry the step started from.
    @_specialize(where T == Float)
    public func backward(dlogits: UnsafePointer<T>, dq: UnsafePointer<T>, batch: Int) {
        precondition(hasSavedActivations && batch == savedBatch, "backward: call innerStep(withGradient: true) with batch \(batch) first")
        guard let g = savedGeometry else { preconditionFailure("backward: no recorded step") }
        let seq = g.seq
        let w = parameters.values.pointer
        let gradient = gradients.pointer
        let dz = backwardScratch.stream.pointer
        let zH = recordedAnswer()
        timed("lm_head backward") {
            for b in 0..<batch {
                let slot = dz + b * seq * dim
                for j in 0..<(puzzleTokens * dim) { slot[j] = 0 }
                linearGradient(slot + puzzleTokens * dim, gradient + offsets.lmHead, dlogits + b * g.tokens * vocab, zH + (b * seq + puzzleTokens) * dim,
                               w + offsets.lmHead, rows: g.tokens, inFeatures: dim, outFeatures: vocab)
            }
            let dFirst = backwardScratch.firstTokens.pointer
            linearBackward(dFirst, gradient + offsets.qWeight, gradient + offsets.qBias, dq, savedFirstTokens.pointer, w + offsets.qWeight, rows: batch, inFeatures: dim, outFeatures: 2)
            for b in 0..<batch {
                let row = dz + b * seq * dim
                for j in 0..<dim { row[j] += dFirst[b * dim + j] }
            }
        }
        let dx = recordedBackward(dz, batch: batch, geometry: g)
        timed("embedding backward") {
            savedInputs.withUnsafeBufferPointer { ip in
                inputEmbeddingBackward(gradient + offsets.tokens, ndim > 0 ? puzzleGradients.pointer : nil, dx, ip.baseAddress!,
                                       batch: batch, tokens: g.tokens, puzzleTokens: puzzleTokens, ndim: ndim, dim: dim,
                                       scale: T(Double(dim).squareRoot()))
            }
        }
    }

    /// Sums the per-slot puzzle gradients into a full-table gradient [N+1, ndim] (for tests and dense use).
    func puzzleTableGradient(batch: Int) -> Tensor<T> {
        let table = Tensor<T>(shape: [config.numPuzzleIdentifiers + 1, max(1, ndim)])
        for b in 0..<batch {
            let row = Int(savedPuzzleIdentifiers[b])
            for j in 0..<ndim { table[row * ndim + j] += puzzleGradients[b * ndim + j] }
        }
        return table
    }
}
