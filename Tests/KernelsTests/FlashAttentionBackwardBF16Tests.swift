// The bf16 attention backward (Sources/Kernels/AVX512BF16/FlashAttentionBackwardBF16.swift), run here through
// KernelsLanes16 (the same source on the emulated vdpbf16ps) and the driver on two workers: against a Double
// backward on the kernel's bf16-rounded operands (tight: only the rounding of P and dS to bf16 differs),
// against the fp32 kernels (loose: bf16 inputs), its P (recomputed from the forward's log-sum-exp) through
// the sums of dv, its packings bit for bit, and the self-check that guards the real instruction.
import Kernels
import KernelsLanes16
import TestHelpers
import XCTest

final class FlashAttentionBackwardBF16Tests: XCTestCase {
    override func setUp() { KernelThreads.configure(threads: 2) }

    static let build = LaneBuilds.bf16TrainingEmulated

    func bf16(_ x: Float) -> Double { Double(roundedToBFloat16(x)) }

    struct Shape {
        let batch: Int, seq: Int, heads: Int, headDim: Int, queryTile: Int, keyTile: Int, forwardTile: Int
        var magnitude: Float = 1
        var dim: Int { heads * headDim }
        var name: String { "B \(batch) S \(seq) H \(heads) x \(headDim), tiles \(queryTile) x \(keyTile) (forward \(forwardTile)), inputs x\(magnitude)" }
    }

    /// Odd lengths (a lone last key, an odd last query tile), lengths ending mid-vector, one and several key
    /// tiles, a last key tile of 13 keys (its row count, 18, passes its column count, 16) and one of 32 (its
    /// columns a whole number of vectors), a length of whole key tiles (no padding), head dims 16 to 64 on the
    /// model's tiles too.
    static let shapes: [Shape] = [
        Shape(batch: 1, seq: 1, heads: 1, headDim: 16, queryTile: 6, keyTile: 48, forwardTile: 48),
        Shape(batch: 2, seq: 29, heads: 2, headDim: 32, queryTile: 12, keyTile: 48, forwardTile: 48),
        Shape(batch: 1, seq: 37, heads: 3, headDim: 48, queryTile: 6, keyTile: 48, forwardTile: 96, magnitude: 2),
        Shape(batch: 1, seq: 61, heads: 2, headDim: 64, queryTile: 18, keyTile: 48, forwardTile: 48, magnitude: 3),
        Shape(batch: 1, seq: 109, heads: 1, headDim: 32, queryTile: 12, keyTile: 96, forwardTile: 96),
        Shape(batch: 2, seq: 145, heads: 2, headDim: 32, queryTile: 48, keyTile: 96, forwardTile: 960),
        Shape(batch: 1, seq: 2, heads: 1, headDim: 16, queryTile: 6, keyTile: 48, forwardTile: 48),
        Shape(batch: 1, seq: 80, heads: 1, headDim: 32, queryTile: 18, keyTile: 48, forwardTile: 48),
        Shape(batch: 1, seq: 192, heads: 2, headDim: 16, queryTile: 48, keyTile: 96, forwardTile: 960),
    ]

    func inputs(_ shape: Shape, seed: UInt64) -> (qkv: Tensor<Float>, dout: Tensor<Float>) {
        var generator = SplitMix64(seed: seed)
        let qkv = Tensor<Float>(shape: [shape.batch * shape.seq, 3 * shape.dim]), dout = Tensor<Float>(shape: [shape.batch * shape.seq, shape.dim])
        for i in 0..<qkv.count { qkv[i] = Float(generator.nextUnit() * 2 - 1) * shape.magnitude }
        for i in 0..<dout.count { dout[i] = Float(generator.nextUnit() * 2 - 1) }
        return (qkv, dout)
    }

    /// Forward then backward on `build` (workspace filled with NaN first: nothing read before it is written).
    func run(_ shape: Shape, _ qkv: Tensor<Float>, _ dout: Tensor<Float>, build: FlashAttentionBuild) -> (out: [Float], lse: [Float], dqkv: [Float]) {
        let scratch = AttentionScratch<Float>(seq: shape.seq, headDim: shape.headDim, workers: 2, queryTile: shape.queryTile, keyTile: shape.keyTile,
                                              forwardKeyTile: shape.forwardTile, extraBuilds: [build])
        XCTAssertTrue(scratch.runs(build), shape.name)
        for i in 0..<scratch.workspace.count { scratch.workspace[i] = .nan }
        let out = Tensor<Float>(shape: [shape.batch * shape.seq, shape.dim]), lse = Tensor<Float>(shape: [shape.batch * shape.heads * shape.seq])
        let dqkv = Tensor<Float>(shape: [shape.batch * shape.seq, 3 * shape.dim])
        for i in 0..<dqkv.count { dqkv[i] = .nan }
        attentionForward(out.pointer, logSumExp: lse.pointer, qkv.pointer, scratch: scratch, batch: shape.batch, seq: shape.seq,
                         heads: shape.heads, headDim: shape.headDim, build: build)
        for i in 0..<scratch.workspace.count { scratch.workspace[i] = .nan }  // nor in the backward
        attentionBackward(dqkv.pointer, dout.pointer, out.pointer, logSumExp: lse.pointer, qkv.pointer, scratch: scratch, batch: shape.batch,
                          seq: shape.seq, heads: shape.heads, headDim: shape.headDim, build: build)
        return (out.array, lse.array, dqkv.array)
    }

    /// The exact gradient in Double of attention on the operands as the kernel rounds them: bf16(q scale
    /// log2 e), bf16(k), bf16(v), bf16(dO); D = bf16(dO) . O from the kernel's own (fp32) output, as the kernel takes it.
    func reference(_ shape: Shape, _ qkv: Tensor<Float>, _ dout: Tensor<Float>, out: [Float]) -> [Double] {
        let dim = shape.dim, seq = shape.seq, headDim = shape.headDim
        let scale = 1 / Double(Float(headDim).squareRoot())
        let factor = 1 / Float(headDim).squareRoot() * 1.44269504088896341
        var dqkv = [Double](repeating: 0, count: shape.batch * seq * 3 * dim)
        for b in 0..<shape.batch {
            for h in 0..<shape.heads {
                func value(_ row: Int, _ part: Int, _ d: Int) -> Float { qkv[(b * seq + row) * 3 * dim + part * dim + h * headDim + d] }
                func gradient(_ row: Int, _ d: Int) -> Float { dout[(b * seq + row) * dim + h * headDim + d] }
                let q = (0..<seq).map { i in (0..<headDim).map { bf16(value(i, 0, $0) * factor) } }
                let k = (0..<seq).map { j in (0..<headDim).map { bf16(value(j, 1, $0)) } }
                let v = (0..<seq).map { j in (0..<headDim).map { bf16(value(j, 2, $0)) } }
                let dO = (0..<seq).map { i in (0..<headDim).map { bf16(gradient(i, $0)) } }
                for i in 0..<seq {
                    // P in base 2 (q carries log2 e), the natural-units score gradient dS
                    var scores = [Double](repeating: 0, count: seq)
                    for j in 0..<seq { for d in 0..<headDim { scores[j] += q[i][d] * k[j][d] } }
                    let m = scores.max()!, weights = scores.map { Foundation.exp2($0 - m) }, z = weights.reduce(0, +)
                    let p = weights.map { $0 / z }
                    var delta = 0.0
                    for d in 0..<headDim { delta += dO[i][d] * Double(out[(b * seq + i) * dim + h * headDim + d]) }
                    for j in 0..<seq {
                        var dP = 0.0
                        for d in 0..<headDim { dP += dO[i][d] * v[j][d] }
                        let dS = p[j] * (dP - delta)
                        let queryRow: Int = (b * seq + i) * 3 * dim + h * headDim
                        let keyRow: Int = (b * seq + j) * 3 * dim + dim + h * headDim, valueRow: Int = keyRow + dim
                        let ln2 = 0.693147180559945309
                        for d in 0..<headDim {
                            dqkv[queryRow + d] += dS * k[j][d] * scale
                            dqkv[keyRow + d] += dS * q[i][d] * ln2
                            dqkv[valueRow + d] += p[j] * dO[i][d]
                        }
                    }
                }
            }
        }
        return dqkv
    }

    /// Largest |a - e| and largest |e| over one part (0 q, 1 k, 2 v) of the dqkv rows.
    func difference<E: BinaryFloatingPoint>(_ actual: [Float], _ expected: [E], part: Int, shape: Shape) -> (difference: Double, largest: Double) {
        var worst = 0.0, largest = 0.0
        for row in 0..<(shape.batch * shape.seq) {
            for c in 0..<shape.dim {
                let index = row * 3 * shape.dim + part * shape.dim + c
                let a = Double(actual[index]), e = Double(expected[index])
                if !(abs(a - e) <= worst) { worst = abs(a - e) }
                largest = max(largest, abs(e))
            }
        }
        return (worst, largest)
    }

    func testEmulatedBF16BackwardMatchesReferences() {
        guard KernelsCPU.hasAVX2FMA else { return XCTAssertNil(FlashAttentionBuild.bf16) }
        for (index, shape) in Self.shapes.enumerated() {
            let (qkv, dout) = inputs(shape, seed: UInt64(900 + index))
            let actual = run(shape, qkv, dout, build: Self.build)
            XCTAssertEqual(actual.dqkv.count, shape.batch * shape.seq * 3 * shape.dim, shape.name)
            let expected = reference(shape, qkv, dout, out: actual.out)
            let fp32 = run(shape, qkv, dout, build: .avx2)
            // measured (emulated, AMD EPYC Zen 1): tight <= 0.28% of the largest gradient (seq 2), loose <= 0.75% (head dim 64, inputs x3)
            for (part, label) in ["dq", "dk", "dv"].enumerated() {
                // tight: the same rounded operands in Double; P and dS rounded to bf16 (2^-9 relative) differ
                let tight = difference(actual.dqkv, expected, part: part, shape: shape)
                // loose: the fp32 kernels on the unrounded inputs
                let loose = difference(actual.dqkv, fp32.dqkv, part: part, shape: shape)
                print("bf16 backward \(label), \(shape.name): vs Double on bf16 operands \(tight.difference) (max \(tight.largest)); "
                      + "vs fp32 kernels \(loose.difference) (max \(loose.largest))")
                XCTAssertLessThanOrEqual(tight.difference, 5e-3 * tight.largest + 1e-6, "\(label), \(shape.name)")
                XCTAssertLessThanOrEqual(loose.difference, 2e-2 * loose.largest + 1e-6, "\(label), \(shape.name)")
            }
            XCTAssertFalse(actual.dqkv.contains { $0.isNaN }, shape.name)
        }
    }

    /// With dO all ones, dv_j = sum_i P_ij in every column, so dv's column sums are sum_ij P_ij = seq: the
    /// backward's P (recomputed from its forward's log-sum-exp) has rows that sum to 1, up to bf16 rounding.
    func testValueGradientsSumToTheSequenceLength() {
        guard KernelsCPU.hasAVX2FMA else { return }
        let shape = Self.shapes[4]
        let (qkv, dout) = inputs(shape, seed: 950)
        for i in 0..<dout.count { dout[i] = 1 }
        let result = run(shape, qkv, dout, build: Self.build)
        for d in 0..<shape.dim {
            var sum = 0.0
            for j in 0..<shape.seq { sum += Double(result.dqkv[j * 3 * shape.dim + 2 * shape.dim + d]) }
            XCTAssertEqual(sum, Double(shape.seq), accuracy: Double(shape.seq) * 4e-3, "column \(d): the sum of dv")
        }
    }

    /// The packings, bit for bit against the scalar rounding (ties and NaN included): consecutive pairs with
    /// a factor, two rows interleaved (and one row with zeros).
    func testPackingsRoundToNearestEven() {
        var generator = SplitMix64(seed: 23)
        var x = (0..<64).map { _ in Float(generator.nextUnit() * 4 - 2) }
        x[3] = Float(bitPattern: 0x3F80_8000); x[4] = Float(bitPattern: 0x3F81_8000); x[5] = .nan; x[6] = -.infinity; x[7] = 0x1p-130
        let factor: Float = 0.3
        var words = [UInt32](repeating: 0, count: 32)
        x.withUnsafeBufferPointer { bf16PackPairs(&words, $0.baseAddress!, pairCount: 32, factor: factor) }
        for j in 0..<32 {
            let expected = UInt32(bfloat16Bits(x[2 * j] * factor)) | UInt32(bfloat16Bits(x[2 * j + 1] * factor)) << 16
            XCTAssertEqual(words[j], expected, "pair \(j)")
        }
        var interleaved = [UInt32](repeating: 0, count: 32)
        x.withUnsafeBufferPointer { bf16InterleaveRows(&interleaved, $0.baseAddress!, $0.baseAddress! + 32, count: 32, factor: 1) }
        for c in 0..<32 {
            XCTAssertEqual(interleaved[c], UInt32(bfloat16Bits(x[c])) | UInt32(bfloat16Bits(x[32 + c])) << 16, "column \(c)")
        }
        x.withUnsafeBufferPointer { bf16InterleaveRows(&interleaved, $0.baseAddress! + 32, nil, count: 32, factor: 2) }
        for c in 0..<32 { XCTAssertEqual(interleaved[c], UInt32(bfloat16Bits(x[32 + c] * 2)), "column \(c), no odd row") }
    }

    /// The emulated build with its backward called on changed outputs / scale (`change`).
    func wrongBackward(_ name: String, _ change: @escaping (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Float)
                        -> (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, Float)) -> FlashAttentionBuild {
        FlashAttentionBuild(
            name: name, laneCount: 16, workspaceCount: Self.build.workspaceCount, forwardPair: Self.build.forwardPair,
            backwardPair: { dq, dk, dv, dqkvStride, dout, out, outStride, lse, q, k, v, qkvStride, seq, headDim, scale, queryTile, keyTile,
                            forwardKeyTile, paddedSeq, workspace in
                let (dq, dk, dv, scale) = change(dq, dk, dv, scale)
                KernelsLanes16.flashAttentionBackwardPairBF16(
                    dq: dq, dk: dk, dv: dv, dqkvStride: dqkvStride, dout: dout, out: out, outStride: outStride, logSumExp: lse, q: q, k: k, v: v,
                    qkvStride: qkvStride, seq: seq, headDim: headDim, scale: scale, queryTile: queryTile, keyTile: keyTile,
                    forwardKeyTile: forwardKeyTile, paddedSeq: paddedSeq, workspace: workspace)
            })
    }

    /// The check that guards the real instruction accepts the right backward and refuses wrong ones.
    func testBackwardSelfCheckAcceptsRightAndRefusesWrong() {
        guard KernelsCPU.hasAVX2FMA else { return }
        XCTAssertTrue(FlashAttentionBuild.forwardAgrees(Self.build, .avx2))
        XCTAssertTrue(FlashAttentionBuild.backwardAgrees(Self.build, .avx2))
        // dk and dv written to each other's place, and the backward on another scale: must be refused
        let swapped = wrongBackward("swapped") { dq, dk, dv, scale in (dq, dv, dk, scale) }
        XCTAssertFalse(FlashAttentionBuild.backwardAgrees(swapped, .avx2), "dk and dv swapped must fail the self-check")
        let unscaled = wrongBackward("unscaled") { dq, dk, dv, scale in (dq, dk, dv, scale * 1.2) }
        XCTAssertFalse(FlashAttentionBuild.backwardAgrees(unscaled, .avx2), "a backward on another scale must fail the self-check")
    }
}
