// The attention the model uses (docs/SPEC.md §4 attention): non-causal multi-head softmax(q k^T / sqrt(hd)) v
// over the packed, already rotated qkv [batch*seq, 3D] (rows q|k|v, heads contiguous) into out
// [batch*seq, D], computed flash-style: per (batch, head) pair, query tiles x key tiles with an online
// softmax (running row max and sum, the output rescaled), so only a query-tile x key-tile block of
// scores ever exists. The forward also writes the row log-sum-exp of the scaled scores
// ([batch, heads, seq]); the backward (FlashAttention-2) recomputes P = exp(S - lse) tile by tile with
// D = rowsum(dO * O). One worker does a whole pair, so results do not depend on the thread count.
// Float runs the register-tiled kernels of FlashAttentionLanes.swift where the CPU and the shapes allow:
// 16 lanes (KernelsAVX512) on a CPU with AVX-512 and head dims that are multiples of 16, else 8 lanes
// (KernelsAVX2) with AVX2 + FMA and head dims that are multiples of 8; everything else runs the portable
// tiles below (BLAS gemm). Under native bf16 matmuls on a CPU with AVX512_BF16, the model runs the forward
// and backward with bf16 products of KernelsAVX512BF16 (FlashAttentionBuild.bf16); under emulated bf16
// matmuls, the same code with the instruction emulated (KernelsLanes16, FlashAttentionBuild.emulatedBF16).
// The blocked kernel of Attention.swift is the test oracle.
import KernelsAVX2
import KernelsAVX512
import KernelsAVX512BF16
import KernelsLanes16

/// Default query rows per tile (the vector kernels need a multiple of 6; other tiles run the portable path).
public let flashQueryTile = 48
/// Default keys per tile of the backward (the vector kernels need a multiple of 3 x their lanes: 24 for
/// AVX2, 48 for AVX-512).
public let flashKeyTile = 96
/// Default keys per tile of the forward (a multiple of 48 too): 960, every ARC sequence (30 x 30 cells
/// plus the puzzle positions) in one tile, so the forward's per-tile work (row maxima, rescaling the
/// running output) runs once per query tile; its 48 x 960 scores (184 KB) stay in L2. The backward's
/// five products per tile want their operands in L1 (`arc-bench micro --key-tile` /
/// `--forward-key-tile`; BENCHMARKS.md).
public let flashForwardKeyTile = 960

/// Which implementation to run: the widest vector kernels this CPU, head dim and tiles allow
/// (automatic), the 8-lane AVX2 ones even where AVX-512 would run (to compare the two), or the portable tiles.
public enum AttentionPath: String, Sendable, CaseIterable {
    case automatic, avx2, portable
}

/// The kernels an attention call runs (AttentionScratch.kernels(path:)).
public enum AttentionKernels: String, Sendable {
    case avx512 = "AVX-512 kernels (16 lanes)", avx2 = "AVX2+FMA kernels (8 lanes)", portable = "portable tiles (BLAS gemm)"

    /// The vector build that runs them (nil for the portable tiles).
    public var build: FlashAttentionBuild? {
        switch self {
        case .avx512: return .avx512
        case .avx2: return .avx2
        case .portable: return nil
        }
    }

    /// The vector kernels' lanes (nil for the portable tiles).
    public var laneCount: Int? { build?.laneCount }
}

/// One build of the vector attention kernels (FlashAttentionLanes.swift): its width and entry points.
/// The driver calls every build through this one shape, so the 16-lane code built for AVX2 (the tests'
/// KernelsLanes16) runs through the same calls as the AVX-512 build.
public struct FlashAttentionBuild: @unchecked Sendable {
    public typealias WorkspaceCount = (_ paddedSeq: Int, _ headDim: Int, _ queryTile: Int, _ keyTile: Int, _ forwardKeyTile: Int) -> Int
    /// (out, outStride, logSumExp, q, k, v, qkvStride, seq, headDim, scale, queryTile, keyTile, forwardKeyTile, paddedSeq, workspace)
    public typealias ForwardPair = (UnsafeMutablePointer<Float>, Int, UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>,
                                    UnsafePointer<Float>, Int, Int, Int, Float, Int, Int, Int, Int, UnsafeMutablePointer<Float>) -> Void
    /// (dq, dk, dv, dqkvStride, dout, out, outStride, logSumExp, q, k, v, qkvStride, seq, headDim, scale, queryTile, keyTile,
    /// forwardKeyTile, paddedSeq, workspace)
    public typealias BackwardPair = (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Int,
                                     UnsafePointer<Float>, UnsafePointer<Float>, Int, UnsafePointer<Float>, UnsafePointer<Float>,
                                     UnsafePointer<Float>, UnsafePointer<Float>, Int, Int, Int, Float, Int, Int, Int, Int,
                                     UnsafeMutablePointer<Float>) -> Void

    public let name: String
    public let laneCount: Int
    public let workspaceCount: WorkspaceCount
    public let forwardPair: ForwardPair
    public let backwardPair: BackwardPair
    /// Whether its backward recomputes the softmax its forward computed, so steps that keep activations
    /// may run it (false for a bf16 forward paired with the fp32 backward: steps without gradient only).
    public let trainable: Bool

    public init(name: String, laneCount: Int, workspaceCount: @escaping WorkspaceCount, forwardPair: @escaping ForwardPair,
                backwardPair: @escaping BackwardPair, trainable: Bool = true) {
        self.name = name
        self.laneCount = laneCount
        self.workspaceCount = workspaceCount
        self.forwardPair = forwardPair
        self.backwardPair = backwardPair
        self.trainable = trainable
    }

    /// 8 lanes, AVX2 + FMA (KernelsAVX2).
    public static let avx2 = FlashAttentionBuild(
        name: AttentionKernels.avx2.rawValue, laneCount: 8, workspaceCount: KernelsAVX2.flashWorkspaceCount,
        forwardPair: KernelsAVX2.flashAttentionForwardPair, backwardPair: KernelsAVX2.flashAttentionBackwardPair)
    /// 16 lanes, AVX-512 (KernelsAVX512): only on a CPU with KernelsCPU.hasAVX512.
    public static let avx512 = FlashAttentionBuild(
        name: AttentionKernels.avx512.rawValue, laneCount: 16, workspaceCount: KernelsAVX512.flashWorkspaceCount,
        forwardPair: KernelsAVX512.flashAttentionForwardPair, backwardPair: KernelsAVX512.flashAttentionBackwardPair)

    /// bf16 products (KernelsAVX512BF16: bf16 operands, fp32 accumulation, fp32 softmax) in the forward and
    /// the backward: only on a CPU with KernelsCPU.hasAVX512BF16 (see `bf16`).
    public static let avx512BF16 = FlashAttentionBuild(
        name: "AVX-512 BF16 forward and backward (16 lanes)", laneCount: 16, workspaceCount: KernelsAVX512BF16.bf16FlashTrainingWorkspaceCount,
        forwardPair: KernelsAVX512BF16.flashAttentionForwardPairBF16, backwardPair: KernelsAVX512BF16.flashAttentionBackwardPairBF16)

    /// The bf16 forward with the fp32 16-lane backward, for steps that take no gradient: the fallback when
    /// only the bf16 forward passes its self-check.
    public static let avx512BF16Forward = FlashAttentionBuild(
        name: "AVX-512 BF16 forward (16 lanes)", laneCount: 16,
        workspaceCount: { max(KernelsAVX512BF16.bf16FlashWorkspaceCount(paddedSeq: $0, headDim: $1, queryTile: $2, keyTile: $3, forwardKeyTile: $4),
                              KernelsAVX512.flashWorkspaceCount(paddedSeq: $0, headDim: $1, queryTile: $2, keyTile: $3, forwardKeyTile: $4)) },
        forwardPair: KernelsAVX512BF16.flashAttentionForwardPairBF16, backwardPair: KernelsAVX512.flashAttentionBackwardPair, trainable: false)

    /// The bf16 attention when this CPU has AVX512_BF16, checked once in the process on first use against
    /// the fp32 AVX-512 kernels: forward and backward (`avx512BF16`) when both pass `forwardAgrees` and
    /// `backwardAgrees`, the forward alone (`avx512BF16Forward`) when only it does, else nil.
    public static let bf16: FlashAttentionBuild? = {
        guard KernelsCPU.hasAVX512BF16, forwardAgrees(avx512BF16, avx512) else { return nil }
        return backwardAgrees(avx512BF16, avx512) ? avx512BF16 : avx512BF16Forward
    }()

    /// The bf16 forward and backward of `avx512BF16` built for AVX2 with vdpbf16ps emulated (KernelsLanes16: 16
    /// lanes, each two AVX2 vectors): the attention of emulated bf16 matmuls (`--precision bf16` on a CPU
    /// without bf16 instructions), so that they compute the numbers of the native ones, not at their speed.
    public static let avx2EmulatedBF16 = FlashAttentionBuild(
        name: "bf16 forward and backward, vdpbf16ps emulated on AVX2 (16 lanes)", laneCount: 16,
        workspaceCount: KernelsLanes16.bf16FlashTrainingWorkspaceCount,
        forwardPair: KernelsLanes16.flashAttentionForwardPairBF16, backwardPair: KernelsLanes16.flashAttentionBackwardPairBF16)

    /// avx2EmulatedBF16 on a CPU with AVX2 + FMA, else nil (then emulated bf16 matmuls keep the fp32 attention).
    public static let emulatedBF16: FlashAttentionBuild? = KernelsCPU.hasAVX2FMA ? avx2EmulatedBF16 : nil

    /// The builds this CPU can run (the bf16 ones' workspaces included where the CPU has them).
    public static var available: [FlashAttentionBuild] {
        (KernelsCPU.hasAVX2FMA ? [avx2, avx2EmulatedBF16] : []) + (KernelsCPU.hasAVX512 ? [avx512] : [])
            + (KernelsCPU.hasAVX512BF16 ? [avx512BF16, avx512BF16Forward] : [])
    }

    /// Random q|k|v rows in [-2, 2) (the self-checks' inputs; a fixed generator).
    static func checkInputs(count: Int, seed: UInt64) -> Tensor<Float> {
        var state = seed
        let values = Tensor<Float>(shape: [count])
        for i in 0..<count {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            values[i] = Float(Double(state >> 40) / Double(1 << 24)) * 4 - 2
        }
        return values
    }

    /// Whether `candidate`'s backward (a bf16 one, after its own forward) matches `reference`'s (fp32) on the
    /// layers of `forwardAgrees`, with random output gradients: dq, dk and dv each within 5e-2 of their
    /// largest value, nothing NaN.
    public static func backwardAgrees(_ candidate: FlashAttentionBuild, _ reference: FlashAttentionBuild) -> Bool {
        backwardAgrees(candidate, reference, seq: 77, heads: 2, headDim: 32) && backwardAgrees(candidate, reference, seq: 40, heads: 1, headDim: 48)
            && backwardAgrees(candidate, reference, seq: 150, heads: 1, headDim: 32, tiles: .production)
    }

    /// Query, backward key and forward key tiles of a self-check layer: small ones (several tiles on a short
    /// layer) or the model's defaults.
    struct CheckTiles {
        let query: Int, key: Int, forwardKey: Int
        static let small = CheckTiles(query: 12, key: 48, forwardKey: 48)
        static let production = CheckTiles(query: flashQueryTile, key: flashKeyTile, forwardKey: flashForwardKeyTile)
    }

    static func backwardAgrees(_ candidate: FlashAttentionBuild, _ reference: FlashAttentionBuild, seq: Int, heads: Int, headDim: Int,
                               tiles: CheckTiles = .small) -> Bool {
        let dim = heads * headDim
        let qkv = checkInputs(count: seq * 3 * dim, seed: 0x9E37_79B9_7F4A_7C15), dout = checkInputs(count: seq * dim, seed: 0xD1B5_4A32_D192_ED03)
        func run(_ build: FlashAttentionBuild) -> [Float]? {
            let scratch = AttentionScratch<Float>(seq: seq, headDim: headDim, workers: 1, queryTile: tiles.query, keyTile: tiles.key, forwardKeyTile: tiles.forwardKey,
                                                  extraBuilds: [build])
            guard scratch.runs(build) else { return nil }
            let out = Tensor<Float>(shape: [seq, dim]), lse = Tensor<Float>(shape: [heads * seq]), dqkv = Tensor<Float>(shape: [seq, 3 * dim])
            attentionForward(out.pointer, logSumExp: lse.pointer, qkv.pointer, scratch: scratch, batch: 1, seq: seq, heads: heads,
                             headDim: headDim, build: build)
            attentionBackward(dqkv.pointer, dout.pointer, out.pointer, logSumExp: lse.pointer, qkv.pointer, scratch: scratch, batch: 1, seq: seq,
                              heads: heads, headDim: headDim, build: build)
            return dqkv.array
        }
        guard let expected = run(reference), let actual = run(candidate) else { return false }
        for part in 0..<3 {
            var largest: Float = 0
            for row in 0..<seq { for c in 0..<dim { largest = max(largest, abs(expected[row * 3 * dim + part * dim + c])) } }
            for row in 0..<seq {
                for c in 0..<dim {
                    let index = row * 3 * dim + part * dim + c
                    if !(abs(actual[index] - expected[index]) <= 5e-2 * largest) { return false }
                }
            }
        }
        return true
    }

    /// Whether `candidate`'s forward (a bf16 one) matches `reference`'s (fp32) on three small random layers
    /// (2 heads x 32 over 77 tokens, two forward key tiles; 1 head x 48 over 40 tokens, the products'
    /// one-vector remainder; 1 head x 32 over 150 tokens on the model's tiles): outputs within 3e-2 of the
    /// largest, log-sum-exps within 3e-2 absolute, nothing NaN. Guards a bf16 forward the tests could only
    /// run emulated.
    public static func forwardAgrees(_ candidate: FlashAttentionBuild, _ reference: FlashAttentionBuild) -> Bool {
        forwardAgrees(candidate, reference, seq: 77, heads: 2, headDim: 32) && forwardAgrees(candidate, reference, seq: 40, heads: 1, headDim: 48)
            && forwardAgrees(candidate, reference, seq: 150, heads: 1, headDim: 32, tiles: .production)
    }

    static func forwardAgrees(_ candidate: FlashAttentionBuild, _ reference: FlashAttentionBuild, seq: Int, heads: Int, headDim: Int,
                              tiles: CheckTiles = .small) -> Bool {
        let batch = 1, dim = heads * headDim
        let qkv = checkInputs(count: seq * 3 * dim, seed: 0x9E37_79B9_7F4A_7C15)
        func run(_ build: FlashAttentionBuild) -> (out: [Float], lse: [Float])? {
            let scratch = AttentionScratch<Float>(seq: seq, headDim: headDim, workers: 1, queryTile: tiles.query, keyTile: tiles.key, forwardKeyTile: tiles.forwardKey,
                                                  extraBuilds: [build])
            guard scratch.runs(build) else { return nil }
            let out = Tensor<Float>(shape: [seq, dim]), lse = Tensor<Float>(shape: [heads * seq])
            attentionForward(out.pointer, logSumExp: lse.pointer, qkv.pointer, scratch: scratch, batch: batch, seq: seq, heads: heads,
                             headDim: headDim, build: build)
            return (out.array, lse.array)
        }
        guard let expected = run(reference), let actual = run(candidate) else { return false }
        let largest = expected.out.map { abs($0) }.max() ?? 0
        for (a, e) in zip(actual.out, expected.out) where !(abs(a - e) <= 3e-2 * largest) { return false }
        for (a, e) in zip(actual.lse, expected.lse) where !(abs(a - e) <= 3e-2) { return false }
        return true
    }

    /// Whether these kernels take a head dim and tiles: head dim a multiple of the lanes, query tile of 6,
    /// key tiles of 3 x the lanes (both 6 and the lanes divide them).
    public func fits(headDim: Int, queryTile: Int, keyTile: Int, forwardKeyTile: Int) -> Bool {
        headDim > 0 && headDim % laneCount == 0 && queryTile % 6 == 0 && keyTile % (3 * laneCount) == 0 && forwardKeyTile % (3 * laneCount) == 0
    }
}

/// Per-worker workspace of the flash attention for one sequence length and head dim: packed K^T and
/// V^T, the query / dO tiles, one score block and one score-gradient block, the output / dQ tile
/// accumulator, row statistics, D, and the dK / dV accumulators of a pair.
public struct AttentionScratch<T: KernelScalar>: @unchecked Sendable {
    public let workspace: Tensor<T>
    public let seq: Int
    public let headDim: Int
    public let workers: Int
    public let queryTile: Int
    /// Keys per tile of the backward.
    public let keyTile: Int
    /// Keys per tile of the forward.
    public let forwardKeyTile: Int
    /// seq rounded up to a whole number of (backward) key tiles.
    public let paddedSeq: Int
    /// Values of workspace per worker.
    public let workspaceStride: Int

    /// `extraBuilds`: vector builds beyond the ones this CPU runs that the workspace must also fit (tests).
    public init(seq: Int, headDim: Int, workers: Int = KernelThreads.parts, queryTile: Int = flashQueryTile, keyTile: Int = flashKeyTile,
                forwardKeyTile: Int = flashForwardKeyTile, extraBuilds: [FlashAttentionBuild] = []) {
        self.seq = seq
        self.headDim = headDim
        self.workers = max(1, workers)
        self.queryTile = max(1, queryTile)
        self.keyTile = max(1, keyTile)
        self.forwardKeyTile = max(1, forwardKeyTile)
        paddedSeq = (max(1, seq) + self.keyTile - 1) / self.keyTile * self.keyTile
        // (each module's code runs only on a CPU that has its instructions: FlashAttentionBuild.available)
        var fast = 0
        for build in FlashAttentionBuild.available + extraBuilds {
            fast = max(fast, build.workspaceCount(paddedSeq, max(1, headDim), self.queryTile, self.keyTile, self.forwardKeyTile))
        }
        let tile = self.queryTile * max(self.keyTile, self.forwardKeyTile)
        let portable = 2 * tile + self.queryTile * max(1, headDim) + 2 * self.queryTile + paddedSeq
        workspaceStride = (max(fast, portable) + 15) / 16 * 16
        workspace = Tensor(shape: [self.workers, workspaceStride])
    }

    /// The kernels attentionForward / attentionBackward run with this scratch on `path`: for Float, a
    /// query tile multiple of 6 and L-lane kernels this CPU has, the widest L that divides the head dim
    /// with key tiles multiples of 3 L (the AVX-512 ones only on the automatic path); else the portable tiles.
    public func kernels(path: AttentionPath) -> AttentionKernels {
        guard path != .portable, T.self == Float.self else { return .portable }
        if path == .automatic && KernelsCPU.hasAVX512 && runs(.avx512) { return .avx512 }
        if KernelsCPU.hasAVX2FMA && runs(.avx2) { return .avx2 }
        return .portable
    }

    /// Whether `build` can run on this scratch: Float, its tile rules, and a workspace large enough.
    public func runs(_ build: FlashAttentionBuild) -> Bool {
        T.self == Float.self && build.fits(headDim: headDim, queryTile: queryTile, keyTile: keyTile, forwardKeyTile: forwardKeyTile)
            && build.workspaceCount(paddedSeq, headDim, queryTile, keyTile, forwardKeyTile) <= workspaceStride
    }
}

@inlinable @inline(__always)
func floats<T>(_ pointer: UnsafeMutablePointer<T>) -> UnsafeMutablePointer<Float> {
    UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: Float.self)
}

@inlinable @inline(__always)
func floats<T>(_ pointer: UnsafePointer<T>) -> UnsafePointer<Float> {
    UnsafeRawPointer(pointer).assumingMemoryBound(to: Float.self)
}

/// out[batch*seq, D] = attention(qkv[batch*seq, 3D]); logSumExp[batch, heads, seq] = the row
/// log-sum-exp of the scaled scores (what attentionBackward needs).
@inlinable
public func attentionForward<T: KernelScalar>(
    _ out: UnsafeMutablePointer<T>, logSumExp: UnsafeMutablePointer<T>,
    _ qkv: UnsafePointer<T>, scratch: AttentionScratch<T>,
    batch: Int, seq: Int, heads: Int, headDim: Int, path: AttentionPath = .automatic
) {
    attentionForward(out, logSumExp: logSumExp, qkv, scratch: scratch, batch: batch, seq: seq, heads: heads, headDim: headDim,
                     build: scratch.kernels(path: path).build)
}

/// attentionForward on a given vector build (nil: the portable tiles); `scratch.runs(build)` must hold.
/// Tests run builds this CPU would not choose through it (the 16-lane code built for AVX2).
@inlinable
public func attentionForward<T: KernelScalar>(
    _ out: UnsafeMutablePointer<T>, logSumExp: UnsafeMutablePointer<T>,
    _ qkv: UnsafePointer<T>, scratch: AttentionScratch<T>,
    batch: Int, seq: Int, heads: Int, headDim: Int, build: FlashAttentionBuild?
) {
    precondition(scratch.seq == seq && scratch.headDim == headDim, "attentionForward: scratch for seq \(scratch.seq), head dim \(scratch.headDim); asked \(seq), \(headDim)")
    precondition(build.map(scratch.runs) ?? true, "attentionForward: \(build?.name ?? "") cannot run on this scratch")
    let dim = heads * headDim
    let scale = 1 / T(headDim).squareRoot()
    let o = SendablePointer(out), lse = SendablePointer(logSumExp), input = SendablePointer(UnsafeMutablePointer(mutating: qkv))
    let work = SendablePointer(scratch.workspace.pointer)
    let stride = scratch.workspaceStride, queryTile = scratch.queryTile, keyTile = scratch.forwardKeyTile, paddedSeq = scratch.paddedSeq
    forEachHeadPair(pairs: batch * heads, workers: scratch.workers) { worker, pair in
        let b = pair / heads, h = pair % heads
        let q = input.pointer + b * seq * 3 * dim + h * headDim, k = q + dim, v = q + 2 * dim
        let output = o.pointer + b * seq * dim + h * headDim
        let rowLSE = lse.pointer + pair * seq
        let workspace = work.pointer + worker * stride
        if let build {
            build.forwardPair(
                floats(output), dim, floats(rowLSE), floats(UnsafePointer(q)), floats(UnsafePointer(k)), floats(UnsafePointer(v)), 3 * dim,
                seq, headDim, Float(scale), queryTile, scratch.keyTile, keyTile, paddedSeq, floats(workspace))
        } else {
            flashForwardPairPortable(
                output, outStride: dim, logSumExp: rowLSE, q: q, k: k, v: v, qkvStride: 3 * dim, seq: seq, headDim: headDim,
                scale: scale, queryTile: queryTile, keyTile: keyTile, workspace: workspace)
        }
    }
}

/// dqkv[batch*seq, 3D] (overwritten) from dout[batch*seq, D], the forward's out and logSumExp, and qkv.
@inlinable
public func attentionBackward<T: KernelScalar>(
    _ dqkv: UnsafeMutablePointer<T>,
    _ dout: UnsafePointer<T>, _ out: UnsafePointer<T>, logSumExp: UnsafePointer<T>, _ qkv: UnsafePointer<T>,
    scratch: AttentionScratch<T>, batch: Int, seq: Int, heads: Int, headDim: Int, path: AttentionPath = .automatic
) {
    attentionBackward(dqkv, dout, out, logSumExp: logSumExp, qkv, scratch: scratch, batch: batch, seq: seq, heads: heads, headDim: headDim,
                      build: scratch.kernels(path: path).build)
}

/// attentionBackward on a given vector build (nil: the portable tiles); `scratch.runs(build)` must hold.
@inlinable
public func attentionBackward<T: KernelScalar>(
    _ dqkv: UnsafeMutablePointer<T>,
    _ dout: UnsafePointer<T>, _ out: UnsafePointer<T>, logSumExp: UnsafePointer<T>, _ qkv: UnsafePointer<T>,
    scratch: AttentionScratch<T>, batch: Int, seq: Int, heads: Int, headDim: Int, build: FlashAttentionBuild?
) {
    precondition(scratch.seq == seq && scratch.headDim == headDim, "attentionBackward: scratch for seq \(scratch.seq), head dim \(scratch.headDim); asked \(seq), \(headDim)")
    precondition(build.map(scratch.runs) ?? true, "attentionBackward: \(build?.name ?? "") cannot run on this scratch")
    let dim = heads * headDim
    let scale = 1 / T(headDim).squareRoot()
    let gradient = SendablePointer(dqkv), input = SendablePointer(UnsafeMutablePointer(mutating: qkv))
    let upstream = SendablePointer(UnsafeMutablePointer(mutating: dout)), output = SendablePointer(UnsafeMutablePointer(mutating: out))
    let lse = SendablePointer(UnsafeMutablePointer(mutating: logSumExp)), work = SendablePointer(scratch.workspace.pointer)
    let stride = scratch.workspaceStride, queryTile = scratch.queryTile, keyTile = scratch.keyTile, paddedSeq = scratch.paddedSeq
    forEachHeadPair(pairs: batch * heads, workers: scratch.workers) { worker, pair in
        let b = pair / heads, h = pair % heads
        let offset = b * seq * 3 * dim + h * headDim
        let q = UnsafePointer(input.pointer + offset), k = q + dim, v = q + 2 * dim
        let dq = gradient.pointer + offset, dk = dq + dim, dv = dq + 2 * dim
        let dO = UnsafePointer(upstream.pointer + b * seq * dim + h * headDim), o = UnsafePointer(output.pointer + b * seq * dim + h * headDim)
        let rowLSE = UnsafePointer(lse.pointer + pair * seq)
        let workspace = work.pointer + worker * stride
        if let build {
            build.backwardPair(
                floats(dq), floats(dk), floats(dv), 3 * dim, floats(dO), floats(o), dim, floats(rowLSE), floats(q), floats(k), floats(v), 3 * dim,
                seq, headDim, Float(scale), queryTile, keyTile, scratch.forwardKeyTile, paddedSeq, floats(workspace))
        } else {
            flashBackwardPairPortable(
                dq: dq, dk: dk, dv: dv, dqkvStride: 3 * dim, dout: dO, out: o, outStride: dim, logSumExp: rowLSE,
                q: q, k: k, v: v, qkvStride: 3 * dim, seq: seq, headDim: headDim, scale: scale,
                queryTile: queryTile, keyTile: keyTile, workspace: workspace)
        }
    }
}

/// The portable forward of one pair: the same tiles, products by T.gemm.
@inlinable
func flashForwardPairPortable<T: KernelScalar>(
    _ out: UnsafeMutablePointer<T>, outStride: Int, logSumExp: UnsafeMutablePointer<T>,
    q: UnsafePointer<T>, k: UnsafePointer<T>, v: UnsafePointer<T>, qkvStride: Int,
    seq: Int, headDim: Int, scale: T, queryTile: Int, keyTile: Int, workspace: UnsafeMutablePointer<T>
) {
    let scores = workspace, accumulator = scores + queryTile * keyTile
    let rowMaximum = accumulator + queryTile * headDim, rowSum = rowMaximum + queryTile
    var first = 0
    while first < seq {
        let rows = min(queryTile, seq - first)
        accumulator.initialize(repeating: 0, count: rows * headDim)
        rowMaximum.initialize(repeating: -.infinity, count: rows)
        rowSum.initialize(repeating: 0, count: rows)
        var key = 0
        while key < seq {
            let keys = min(keyTile, seq - key)
            T.gemm(transposeA: false, transposeB: true, m: rows, n: keys, k: headDim, alpha: scale, a: q + first * qkvStride, lda: qkvStride,
                   b: k + key * qkvStride, ldb: qkvStride, beta: 0, c: scores, ldc: keyTile)
            for i in 0..<rows {
                let line = scores + i * keyTile
                let newMaximum = max(rowMaximum[i], T.maximum(line, count: keys))
                let sum = T.exponentialShiftedInPlace(line, count: keys, shift: newMaximum)
                let correction = T.exponential(rowMaximum[i] - newMaximum)
                rowSum[i] = rowSum[i] * correction + sum
                rowMaximum[i] = newMaximum
                if correction != 1 {
                    let o = accumulator + i * headDim
                    for d in 0..<headDim { o[d] *= correction }
                }
            }
            T.gemm(transposeA: false, transposeB: false, m: rows, n: headDim, k: keys, alpha: 1, a: scores, lda: keyTile,
                   b: v + key * qkvStride, ldb: qkvStride, beta: 1, c: accumulator, ldc: headDim)
            key += keys
        }
        for i in 0..<rows {
            let inverse = 1 / rowSum[i]
            let o = out + (first + i) * outStride, a = accumulator + i * headDim
            for d in 0..<headDim { o[d] = a[d] * inverse }
            logSumExp[first + i] = rowMaximum[i] + T.logarithm(rowSum[i])
        }
        first += rows
    }
}

/// The portable backward of one pair (FlashAttention-2 with T.gemm): dq, dk, dv overwritten.
@inlinable
func flashBackwardPairPortable<T: KernelScalar>(
    dq: UnsafeMutablePointer<T>, dk: UnsafeMutablePointer<T>, dv: UnsafeMutablePointer<T>, dqkvStride: Int,
    dout: UnsafePointer<T>, out: UnsafePointer<T>, outStride: Int, logSumExp: UnsafePointer<T>,
    q: UnsafePointer<T>, k: UnsafePointer<T>, v: UnsafePointer<T>, qkvStride: Int,
    seq: Int, headDim: Int, scale: T, queryTile: Int, keyTile: Int, workspace: UnsafeMutablePointer<T>
) {
    let p = workspace, dS = p + queryTile * keyTile, delta = dS + queryTile * keyTile
    for i in 0..<seq { delta[i] = T.dot(dout + i * outStride, out + i * outStride, count: headDim) }
    var first = 0
    while first < seq {
        let rows = min(queryTile, seq - first)
        let qBlock = q + first * qkvStride, dOBlock = dout + first * outStride
        var key = 0
        while key < seq {
            let keys = min(keyTile, seq - key)
            let kBlock = k + key * qkvStride
            // P = exp(scale Q K^T - lse), dP = dO V^T, dS = P * (dP - D)
            T.gemm(transposeA: false, transposeB: true, m: rows, n: keys, k: headDim, alpha: scale, a: qBlock, lda: qkvStride,
                   b: kBlock, ldb: qkvStride, beta: 0, c: p, ldc: keyTile)
            T.gemm(transposeA: false, transposeB: true, m: rows, n: keys, k: headDim, alpha: 1, a: dOBlock, lda: outStride,
                   b: v + key * qkvStride, ldb: qkvStride, beta: 0, c: dS, ldc: keyTile)
            for i in 0..<rows {
                let pLine = p + i * keyTile, gLine = dS + i * keyTile
                _ = T.exponentialShiftedInPlace(pLine, count: keys, shift: logSumExp[first + i])
                let rowDelta = delta[first + i]
                for j in 0..<keys { gLine[j] = pLine[j] * (gLine[j] - rowDelta) }
            }
            let firstQueryTile: T = first == 0 ? 0 : 1
            // dV_j += P^T dO_i ; dK_j += scale dS^T Q_i ; dQ_i += scale dS K_j
            T.gemm(transposeA: true, transposeB: false, m: keys, n: headDim, k: rows, alpha: 1, a: p, lda: keyTile,
                   b: dOBlock, ldb: outStride, beta: firstQueryTile, c: dv + key * dqkvStride, ldc: dqkvStride)
            T.gemm(transposeA: true, transposeB: false, m: keys, n: headDim, k: rows, alpha: scale, a: dS, lda: keyTile,
                   b: qBlock, ldb: qkvStride, beta: firstQueryTile, c: dk + key * dqkvStride, ldc: dqkvStride)
            T.gemm(transposeA: false, transposeB: false, m: rows, n: headDim, k: keys, alpha: scale, a: dS, lda: keyTile,
                   b: kBlock, ldb: qkvStride, beta: key == 0 ? 0 : 1, c: dq + first * dqkvStride, ldc: dqkvStride)
            key += keys
        }
        first += rows
    }
}
