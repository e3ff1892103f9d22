// The bf16 attention forward (Sources/Kernels/AVX512BF16/FlashAttentionBF16.swift): its pair dot product
// emulation against Double, the forward (run here through KernelsLanes16, which builds it on the emulated
// vdpbf16ps for AVX2) through the driver on two workers against a Double reference on bf16-rounded
// inputs (tight: only the rounding of P to bf16 differs) and against the fp32 kernels (loose: bf16
// inputs), the self-check that guards the real instruction, and when the model may use it.
import Kernels
import KernelsLanes16
import TestHelpers
import XCTest

final class FlashAttentionBF16Tests: XCTestCase {
    override func setUp() { KernelThreads.configure(threads: 2) }

    /// KernelsLanes16's bf16 forward (emulated instruction) with its fp32 backward (TestHelpers).
    static let emulatedBuild = LaneBuilds.bf16Emulated

    func bf16(_ x: Float) -> Double { Double(roundedToBFloat16(x)) }

    /// The emulated vdpbf16ps: acc + odd product + even product, within one rounding of each sum.
    func testEmulatedPairDotProduct() {
        var generator = SplitMix64(seed: 21)
        for _ in 0..<200 {
            var acc = SIMD16<Float>(), a = SIMD16<UInt32>(), b = SIMD16<UInt32>()
            var expected = [Double](repeating: 0, count: 16)
            for i in 0..<16 {
                let values = (0..<4).map { _ in Float(generator.nextUnit() * 8 - 4) }
                acc[i] = Float(generator.nextUnit() * 100 - 50)
                a[i] = UInt32(bfloat16Bits(values[0])) | UInt32(bfloat16Bits(values[1])) << 16
                b[i] = UInt32(bfloat16Bits(values[2])) | UInt32(bfloat16Bits(values[3])) << 16
                expected[i] = Double(acc[i]) + bf16(values[0]) * bf16(values[2]) + bf16(values[1]) * bf16(values[3])
            }
            let result = emulatedDotPairs(acc, a, b)
            for i in 0..<16 {
                XCTAssertEqual(Double(result[i]), expected[i], accuracy: 2 * Double(Float.ulpOfOne) * max(1, abs(expected[i])) * 64, "lane \(i)")
            }
        }
    }

    /// P to bf16 pairs (the forward's vector packing) bit for bit against the scalar rounding, ties and
    /// values around them included.
    func testProbabilityPairsRoundToNearestEven() {
        var generator = SplitMix64(seed: 22)
        var p = (0..<200).map { _ in Float(generator.nextUnit()) }
        p += [Float(bitPattern: 0x3F80_8000), Float(bitPattern: 0x3F81_8000), Float(bitPattern: 0x3E80_7FFF), Float(bitPattern: 0x3E80_8001),
              1, 0, 0x1p-125, Float(bitPattern: 0x3C01_8000), 0.3, Float(bitPattern: 0x3F82_8000)]  // 105 pairs: a scalar tail too
        var words = [UInt32](repeating: 0, count: p.count / 2)
        p.withUnsafeBufferPointer { source in bf16ProbabilityPairs(&words, source.baseAddress!, pairCount: p.count / 2) }
        for j in 0..<(p.count / 2) {
            let expected = UInt32(bfloat16Bits(p[2 * j])) | UInt32(bfloat16Bits(p[2 * j + 1])) << 16
            XCTAssertEqual(words[j], expected, "pair \(j): (\(p[2 * j]), \(p[2 * j + 1]))")
        }
    }

    struct Shape {
        let batch: Int, seq: Int, heads: Int, headDim: Int, queryTile: Int, forwardTile: Int
        var magnitude: Float = 1
        var dim: Int { heads * headDim }
        var name: String { "B \(batch) S \(seq) H \(heads) x \(headDim), tiles \(queryTile) x \(forwardTile), inputs x\(magnitude)" }
    }

    /// Odd sequence lengths (a lone last key), lengths ending mid-vector, one and several forward tiles,
    /// head dims 16 / 32 / 48 / 64, larger scores.
    static let shapes: [Shape] = [
        Shape(batch: 1, seq: 1, heads: 1, headDim: 16, queryTile: 6, forwardTile: 48),
        Shape(batch: 2, seq: 29, heads: 2, headDim: 32, queryTile: 12, forwardTile: 48),
        Shape(batch: 1, seq: 37, heads: 3, headDim: 48, queryTile: 6, forwardTile: 96, magnitude: 2),
        Shape(batch: 1, seq: 61, heads: 2, headDim: 64, queryTile: 18, forwardTile: 48, magnitude: 3),
        Shape(batch: 2, seq: 145, heads: 2, headDim: 32, queryTile: 48, forwardTile: 96),
        Shape(batch: 1, seq: 901, heads: 1, headDim: 32, queryTile: 48, forwardTile: 960, magnitude: 2),
    ]

    func inputs(_ shape: Shape, seed: UInt64) -> Tensor<Float> {
        var generator = SplitMix64(seed: seed)
        let qkv = Tensor<Float>(shape: [shape.batch * shape.seq, 3 * shape.dim])
        for i in 0..<qkv.count { qkv[i] = Float(generator.nextUnit() * 2 - 1) * shape.magnitude }
        return qkv
    }

    func forward(_ shape: Shape, _ qkv: Tensor<Float>, build: FlashAttentionBuild) -> (out: [Float], lse: [Float]) {
        let scratch = AttentionScratch<Float>(seq: shape.seq, headDim: shape.headDim, workers: 2, queryTile: shape.queryTile, keyTile: 48,
                                              forwardKeyTile: shape.forwardTile, extraBuilds: [build])
        XCTAssertTrue(scratch.runs(build), shape.name)
        for i in 0..<scratch.workspace.count { scratch.workspace[i] = .nan }  // nothing read before it is written
        let out = Tensor<Float>(shape: [shape.batch * shape.seq, shape.dim]), lse = Tensor<Float>(shape: [shape.batch * shape.heads * shape.seq])
        attentionForward(out.pointer, logSumExp: lse.pointer, qkv.pointer, scratch: scratch, batch: shape.batch, seq: shape.seq,
                         heads: shape.heads, headDim: shape.headDim, build: build)
        return (out.array, lse.array)
    }

    /// Double attention on inputs rounded as the kernel rounds them: bf16(q scale log2 e), bf16(k), bf16(v).
    func reference(_ shape: Shape, _ qkv: Tensor<Float>) -> (out: [Double], lse: [Double]) {
        let dim = shape.dim, seq = shape.seq, headDim = shape.headDim
        let factor = 1 / Float(headDim).squareRoot() * 1.44269504088896341
        var out = [Double](repeating: 0, count: shape.batch * seq * dim), lse = [Double]()
        for b in 0..<shape.batch {
            for h in 0..<shape.heads {
                func value(_ row: Int, _ part: Int, _ d: Int) -> Float { qkv[(b * seq + row) * 3 * dim + part * dim + h * headDim + d] }
                for i in 0..<seq {
                    var scores = [Double](repeating: 0, count: seq)
                    for j in 0..<seq {
                        for d in 0..<headDim { scores[j] += bf16(value(i, 0, d) * factor) * bf16(value(j, 1, d)) }
                    }
                    let m = scores.max()!, weights = scores.map { Foundation.exp2($0 - m) }, z = weights.reduce(0, +)
                    lse.append((m + log2(z)) * 0.693147180559945309)
                    for d in 0..<headDim {
                        var sum = 0.0
                        for j in 0..<seq { sum += weights[j] * bf16(value(j, 2, d)) }
                        out[(b * seq + i) * dim + h * headDim + d] = sum / z
                    }
                }
            }
        }
        return (out, lse)
    }

    func testEmulatedBF16ForwardMatchesReferences() {
        guard KernelsCPU.hasAVX2FMA else { return XCTAssertNil(FlashAttentionBuild.bf16) }
        for (index, shape) in Self.shapes.enumerated() {
            let qkv = inputs(shape, seed: UInt64(700 + index))
            let actual = forward(shape, qkv, build: Self.emulatedBuild)
            XCTAssertEqual(actual.out.count, shape.batch * shape.seq * shape.dim)
            XCTAssertEqual(actual.lse.count, shape.batch * shape.heads * shape.seq)
            // tight: the same rounded inputs in Double; only P's rounding to bf16 (2^-9 relative) differs
            let expected = reference(shape, qkv)
            let largest = expected.out.map(abs).max() ?? 0
            var worst = 0.0, worstLSE = 0.0
            for (a, e) in zip(actual.out, expected.out) { let d = abs(Double(a) - e); if !(d <= worst) { worst = d } }
            for (a, e) in zip(actual.lse, expected.lse) { let d = abs(Double(a) - e); if !(d <= worstLSE) { worstLSE = d } }
            print("bf16 forward vs Double on bf16 inputs, \(shape.name): out largest |diff| \(worst) (max |ref| \(largest)), lse \(worstLSE)")
            XCTAssertLessThanOrEqual(worst, 5e-3 * largest + 1e-6, shape.name)
            XCTAssertLessThanOrEqual(worstLSE, 1e-4 * Double(shape.magnitude * shape.magnitude), shape.name)
            // loose: against the fp32 kernels on the unrounded inputs
            if KernelsCPU.hasAVX2FMA {
                let fp32 = forward(shape, qkv, build: .avx2)
                let scale = fp32.out.map { abs($0) }.max() ?? 0
                var difference: Float = 0
                for (a, e) in zip(actual.out, fp32.out) { let d = abs(a - e); if !(d <= difference) { difference = d } }
                print("  vs fp32 kernels: out largest |diff| \(difference) (max |fp32| \(scale))")
                XCTAssertLessThanOrEqual(difference, 3e-2 * scale, shape.name)
            }
        }
    }

    /// The check that guards the real instruction accepts a right bf16 forward and refuses a wrong one.
    func testSelfCheckAcceptsRightAndRefusesWrong() {
        guard KernelsCPU.hasAVX2FMA else { return }
        XCTAssertTrue(FlashAttentionBuild.forwardAgrees(Self.emulatedBuild, .avx2))
        // the pairs' halves crossed in V only (a product of the wrong elements): must be refused
        let wrong = FlashAttentionBuild(
            name: "wrong", laneCount: 16, workspaceCount: Self.emulatedBuild.workspaceCount,
            forwardPair: { out, outStride, lse, q, k, v, qkvStride, seq, headDim, scale, queryTile, keyTile, forwardKeyTile, paddedSeq, workspace in
                KernelsLanes16.flashAttentionForwardPairBF16(out, outStride: outStride, logSumExp: lse, q: q, k: k, v: k, qkvStride: qkvStride, seq: seq,
                                                             headDim: headDim, scale: scale, queryTile: queryTile, keyTile: keyTile,
                                                             forwardKeyTile: forwardKeyTile, paddedSeq: paddedSeq, workspace: workspace)
            }, backwardPair: Self.emulatedBuild.backwardPair)
        XCTAssertFalse(FlashAttentionBuild.forwardAgrees(wrong, .avx2), "a forward that reads k for v must fail the self-check")
    }

    /// The real bf16 forward exists only on a CPU with AVX-512 + AVX512_BF16 + AVX512_VNNI (read from
    /// /proc/cpuinfo here) and when it passed its self-check; elsewhere the model never asks for it.
    func testBF16ForwardOnlyWhereTheCPUHasIt() {
        let text = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        let flags = Set(text.split(separator: "\n").first(where: { $0.hasPrefix("flags") })?
            .split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init) ?? [])
        let environment = ProcessInfo.processInfo.environment
        let expected = KernelsCPU.hasAVX512 && flags.isSuperset(of: ["avx512_bf16", "avx512_vnni"]) && environment["ARC_KERNELS_NO_AVX512_BF16"] == nil
        XCTAssertEqual(KernelsCPU.hasAVX512BF16, expected)
        if !expected {
            XCTAssertNil(FlashAttentionBuild.bf16, "no AVX512_BF16 here: the bf16 attention must not be offered")
        } else {
            XCTAssertNotNil(FlashAttentionBuild.bf16, "AVX512_BF16 here: the real bf16 forward should pass its self-check")
            XCTAssertEqual(FlashAttentionBuild.bf16?.trainable, true, "AVX512_BF16 here: the real bf16 backward should pass its self-check")
        }
        XCTAssertTrue(KernelsCPU.supportsAVX512BF16(flags: ["avx", "avx2", "fma", "f16c", "bmi1", "bmi2", "abm", "movbe", "popcnt", "avx512f",
                                                            "avx512cd", "avx512bw", "avx512dq", "avx512vl", "avx512_bf16", "avx512_vnni"]))
        XCTAssertFalse(KernelsCPU.supportsAVX512BF16(flags: ["avx", "avx2", "fma", "avx512_bf16", "avx512_vnni"]), "bf16 without AVX-512")
    }
}
