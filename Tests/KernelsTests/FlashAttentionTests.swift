// The flash attention kernel (Kernels/FlashAttention.swift, docs/SPEC.md §4 attention) against the blocked
// kernel (Attention.swift) in Float, the vector kernels (8 lanes: AVX2; 16 lanes: the AVX-512 source, run
// here through its AVX2 build KernelsLanes16) against the portable tiles, the automatic choice of kernels
// against the CPU's flags, central finite differences in Double, the row log-sum-exp against a naive
// computation, and thread-count independence.
// Float tolerances: forward and gradients within 2e-5 of the largest reference magnitude (1e-4 for the
// shapes with scores spread far beyond the exp's range).
import Kernels
import KernelsAVX2
import KernelsLanes16
import TestHelpers
import XCTest

final class FlashAttentionTests: XCTestCase {
    override func setUp() { KernelThreads.configure(threads: 2) }
    override func tearDown() { KernelThreads.configure(threads: 2) }

    struct Shape {
        let batch: Int, seq: Int, heads: Int, headDim: Int
        var queryTile = flashQueryTile, keyTile = flashKeyTile
        var magnitude: Float = 1
        /// The forward's key tile: the backward's unless given, so the forward runs several tiles too.
        var forwardTile: Int? = nil
        /// Comparison tolerance relative to the largest reference value (large scores round more).
        var tolerance = 2e-5
        var forwardKeyTile: Int { forwardTile ?? keyTile }
        var dim: Int { heads * headDim }
        var name: String { "B \(batch) S \(seq) H \(heads) x \(headDim), tiles \(queryTile) x \(keyTile) (forward \(forwardKeyTile)), inputs x\(magnitude)" }
        var scratch: AttentionScratch<Float> {
            AttentionScratch<Float>(seq: seq, headDim: headDim, queryTile: queryTile, keyTile: keyTile, forwardKeyTile: forwardKeyTile)
        }
    }

    /// Seq 1, 7, 37, 145, 257 with tiles that do not divide them; head dims 8, 16, 32, 64 (and 12, or
    /// tiles of 5 x 7: the portable path only); batch 1-3, heads 1-4; large scores (the online rescaling).
    static let shapes: [Shape] = [
        Shape(batch: 1, seq: 1, heads: 1, headDim: 8),
        Shape(batch: 2, seq: 7, heads: 3, headDim: 16, queryTile: 6, keyTile: 24),
        Shape(batch: 3, seq: 37, heads: 2, headDim: 32, queryTile: 12, keyTile: 24),
        Shape(batch: 1, seq: 37, heads: 4, headDim: 8, queryTile: 6, keyTile: 24, magnitude: 4),
        Shape(batch: 2, seq: 145, heads: 2, headDim: 32),
        Shape(batch: 1, seq: 145, heads: 1, headDim: 64, queryTile: 18, keyTile: 48),
        Shape(batch: 2, seq: 257, heads: 2, headDim: 32),
        Shape(batch: 1, seq: 257, heads: 1, headDim: 64, queryTile: 30, keyTile: 72, magnitude: 3),
        Shape(batch: 2, seq: 37, heads: 2, headDim: 12, queryTile: 12, keyTile: 24),
        Shape(batch: 2, seq: 37, heads: 2, headDim: 16, queryTile: 5, keyTile: 7, magnitude: 3),
        // a last forward tile of a multiple of 8 keys (40 = 24 + 16), forward tiles larger than the
        // backward's (the defaults' kind), and the default tiles on the cpu-bench length
        Shape(batch: 1, seq: 40, heads: 2, headDim: 32, queryTile: 12, keyTile: 24, magnitude: 4),
        Shape(batch: 1, seq: 145, heads: 2, headDim: 32, queryTile: 12, keyTile: 24, magnitude: 3, forwardTile: 72),
        Shape(batch: 1, seq: 901, heads: 1, headDim: 32, magnitude: 2, forwardTile: flashForwardKeyTile),
        // scores spread over far more than the exp's range (2^-125 ... 1): a row maximum that is wrong
        // (e.g. half of a score tile left out of the folded maximum) overflows to inf / NaN here, while
        // any shift gives the same softmax at small magnitudes; one with a last forward tile of 8 keys
        Shape(batch: 1, seq: 40, heads: 2, headDim: 32, queryTile: 12, keyTile: 24, magnitude: 16, forwardTile: 24, tolerance: 1e-4),
        Shape(batch: 2, seq: 32, heads: 2, headDim: 16, queryTile: 6, keyTile: 24, magnitude: 16, forwardTile: 24, tolerance: 1e-4),
        Shape(batch: 1, seq: 145, heads: 1, headDim: 32, magnitude: 16, forwardTile: 48, tolerance: 1e-4),
    ]

    struct Result {
        var out: [Float], logSumExp: [Float], dq: [Float], dk: [Float], dv: [Float]
    }

    static func inputs(_ shape: Shape, seed: UInt64) -> (qkv: Tensor<Float>, dout: Tensor<Float>) {
        var generator = SplitMix64(seed: seed)
        let rows = shape.batch * shape.seq
        let qkv = Tensor<Float>(shape: [rows, 3 * shape.dim]), dout = Tensor<Float>(shape: [rows, shape.dim])
        for i in 0..<qkv.count { qkv[i] = Float(generator.nextUnit() * 2 - 1) * shape.magnitude }
        for i in 0..<dout.count { dout[i] = Float(generator.nextUnit() * 2 - 1) }
        return (qkv, dout)
    }

    static func split(_ dqkv: Tensor<Float>, _ shape: Shape, part: Int) -> [Float] {
        let rows = shape.batch * shape.seq, dim = shape.dim
        return (0..<rows).flatMap { row in (0..<dim).map { dqkv[row * 3 * dim + part * dim + $0] } }
    }

    static func flash(_ shape: Shape, _ qkv: Tensor<Float>, _ dout: Tensor<Float>, path: AttentionPath) -> Result {
        let rows = shape.batch * shape.seq
        let scratch = shape.scratch
        let out = Tensor<Float>(shape: [rows, shape.dim]), lse = Tensor<Float>(shape: [shape.batch * shape.heads * shape.seq])
        let dqkv = Tensor<Float>(shape: [rows, 3 * shape.dim])
        for i in 0..<dqkv.count { dqkv[i] = .nan }  // the backward overwrites every value
        attentionForward(out.pointer, logSumExp: lse.pointer, qkv.pointer, scratch: scratch,
                         batch: shape.batch, seq: shape.seq, heads: shape.heads, headDim: shape.headDim, path: path)
        attentionBackward(dqkv.pointer, dout.pointer, out.pointer, logSumExp: lse.pointer, qkv.pointer, scratch: scratch,
                          batch: shape.batch, seq: shape.seq, heads: shape.heads, headDim: shape.headDim, path: path)
        return Result(out: out.array, logSumExp: lse.array, dq: split(dqkv, shape, part: 0), dk: split(dqkv, shape, part: 1), dv: split(dqkv, shape, part: 2))
    }

    static func blocked(_ shape: Shape, _ qkv: Tensor<Float>, _ dout: Tensor<Float>) -> Result {
        let rows = shape.batch * shape.seq
        let scratch = BlockedAttentionScratch<Float>(seq: shape.seq)
        let out = Tensor<Float>(shape: [rows, shape.dim]), dqkv = Tensor<Float>(shape: [rows, 3 * shape.dim])
        blockedAttentionForward(out.pointer, qkv.pointer, scratch: scratch, batch: shape.batch, seq: shape.seq, heads: shape.heads, headDim: shape.headDim)
        blockedAttentionBackward(dqkv.pointer, dout.pointer, qkv.pointer, scratch: scratch, batch: shape.batch, seq: shape.seq, heads: shape.heads, headDim: shape.headDim)
        return Result(out: out.array, logSumExp: [], dq: split(dqkv, shape, part: 0), dk: split(dqkv, shape, part: 1), dv: split(dqkv, shape, part: 2))
    }

    /// max |actual - expected| <= tolerance * max |expected| (and no NaN).
    func assertRelativeToMaximum(_ name: String, _ actual: [Float], _ expected: [Float], tolerance: Double, file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(actual.count, expected.count, name, file: file, line: line)
        var scale = 0.0, largest = 0.0
        for value in expected { scale = max(scale, abs(Double(value))) }
        for (a, b) in zip(actual, expected) {
            let difference = abs(Double(a) - Double(b))
            if !(difference <= largest) { largest = difference }
        }
        // A reference that is zero in exact arithmetic (dq, dk at seq 1: the softmax of one score is
        // constant) holds only rounding (~1e-8, from whichever matmul library runs the portable tiles):
        // the bound never drops below 1e-6 absolute.
        let bound = max(tolerance * scale, 1e-6)
        print("\(name): largest |diff| \(largest), max |ref| \(scale), relative \(largest / max(scale, 1e-30))")
        XCTAssert(largest <= bound, "\(name): largest |diff| \(largest) > \(tolerance) x max |ref| \(scale) (bound \(bound))", file: file, line: line)
    }

    func compare(_ name: String, _ actual: Result, _ expected: Result, tolerance: Double, file: StaticString = #filePath, line: UInt = #line) {
        assertRelativeToMaximum("\(name) out", actual.out, expected.out, tolerance: tolerance, file: file, line: line)
        assertRelativeToMaximum("\(name) dq", actual.dq, expected.dq, tolerance: tolerance, file: file, line: line)
        assertRelativeToMaximum("\(name) dk", actual.dk, expected.dk, tolerance: tolerance, file: file, line: line)
        assertRelativeToMaximum("\(name) dv", actual.dv, expected.dv, tolerance: tolerance, file: file, line: line)
    }

    func testFlashMatchesBlockedKernel() {
        for (index, shape) in Self.shapes.enumerated() {
            let (qkv, dout) = Self.inputs(shape, seed: UInt64(100 + index))
            let reference = Self.blocked(shape, qkv, dout)
            compare("flash (automatic) vs blocked, \(shape.name)", Self.flash(shape, qkv, dout, path: .automatic), reference, tolerance: shape.tolerance)
            compare("flash (portable) vs blocked, \(shape.name)", Self.flash(shape, qkv, dout, path: .portable), reference, tolerance: shape.tolerance)
        }
    }

    /// Every score of a row far below 0 (keys pointing against the query): the zero-padded keys past
    /// the sequence's end score exactly 0, so a row maximum that took them in would push every real
    /// score past the exp's range (2^-125) and flatten the softmax to uniform weights. Lengths with
    /// a last 8-column block (37) and a last 16-column block (29) of which only part is valid, in
    /// one forward tile (the default) and in several.
    func testPaddedKeysNeverSetTheRowMaximum() {
        for (seq, forwardTile) in [(29, flashForwardKeyTile), (37, flashForwardKeyTile), (29, 24), (61, 48)] {
            let shape = Shape(batch: 1, seq: seq, heads: 2, headDim: 32, queryTile: 12, keyTile: 24, forwardTile: forwardTile)
            var generator = SplitMix64(seed: UInt64(seq * 100 + forwardTile))
            let dim = shape.dim
            let qkv = Tensor<Float>(shape: [seq, 3 * dim]), dout = Tensor<Float>(shape: [seq, dim])
            for row in 0..<seq {
                for c in 0..<dim {
                    qkv[row * 3 * dim + c] = 8 + Float(generator.nextUnit() - 0.5)             // q
                    qkv[row * 3 * dim + dim + c] = -8 + Float(generator.nextUnit() - 0.5)      // k: scores ~ -500 (base 2)
                    qkv[row * 3 * dim + 2 * dim + c] = Float(generator.nextUnit() * 2 - 1)    // v
                }
            }
            for i in 0..<dout.count { dout[i] = Float(generator.nextUnit() * 2 - 1) }
            let reference = Self.blocked(shape, qkv, dout)
            // the softmax is far from uniform here: the output differs from the mean of v
            var spread = 0.0
            for c in 0..<dim {
                var mean = 0.0
                for row in 0..<seq { mean += Double(qkv[row * 3 * dim + 2 * dim + c]) / Double(seq) }
                spread = max(spread, abs(Double(reference.out[c]) - mean))
            }
            XCTAssertGreaterThan(spread, 0.05, "seq \(seq): the test's softmax should be peaked")
            compare("padded keys, seq \(seq), forward tile \(forwardTile)", Self.flash(shape, qkv, dout, path: .automatic), reference, tolerance: 1e-4)
            compare("padded keys (avx2 path), seq \(seq), forward tile \(forwardTile)", Self.flash(shape, qkv, dout, path: .avx2), reference, tolerance: 1e-4)
            if KernelsCPU.hasAVX2FMA {
                // the 16-lane kernels: last vectors of 13 (29) / 5 (37, 61) valid keys, tiles of 48
                let wide = Shape(batch: 1, seq: seq, heads: 2, headDim: 32, queryTile: 12, keyTile: 48, forwardTile: max(48, (forwardTile + 47) / 48 * 48))
                compare("padded keys (16 lanes), seq \(seq), forward tile \(wide.forwardKeyTile)", Self.sixteenLanes(wide, qkv, dout), reference, tolerance: 1e-4)
            }
        }
    }

    /// The vector kernels the automatic and avx2 paths run (8 or 16 lanes, whichever this CPU and
    /// shape allow) against the portable tiles on the same inputs.
    func testVectorKernelsMatchPortableTiles() {
        guard KernelsCPU.hasAVX2FMA else {
            // Without AVX2 + FMA only the portable path exists: the automatic choice must say so.
            let scratch = AttentionScratch<Float>(seq: 145, headDim: 32)
            XCTAssertEqual(scratch.kernels(path: .automatic), .portable, "vector kernels chosen on a CPU without AVX2 + FMA")
            return
        }
        var compared = Set<AttentionKernels>()
        for (index, shape) in Self.shapes.enumerated() {
            let (qkv, dout) = Self.inputs(shape, seed: UInt64(200 + index))
            let portable = Self.flash(shape, qkv, dout, path: .portable)
            XCTAssertEqual(shape.scratch.kernels(path: .portable), .portable)
            for path in [AttentionPath.automatic, .avx2] {
                let kernels = shape.scratch.kernels(path: path)
                guard let lanes = kernels.laneCount else { continue }
                XCTAssertEqual(shape.headDim % lanes, 0, shape.name)
                compared.insert(kernels)
                let fast = Self.flash(shape, qkv, dout, path: path)
                compare("\(kernels.rawValue) vs portable, \(shape.name)", fast, portable, tolerance: shape.tolerance)
                assertRelativeToMaximum("\(kernels.rawValue) vs portable lse, \(shape.name)", fast.logSumExp, portable.logSumExp, tolerance: 2e-6)
            }
        }
        XCTAssertTrue(compared.contains(.avx2), "no shape ran the AVX2 kernels")
        if KernelsCPU.hasAVX512 { XCTAssertTrue(compared.contains(.avx512), "no shape ran the AVX-512 kernels") }
    }

    /// The automatic path runs the widest kernels this CPU has (a test that fails when the attention's
    /// kernel set is below what the CPU supports): read from /proc/cpuinfo's flags here, not from the
    /// choice's own code; and the flag rules on known CPUs.
    func testAutomaticPathRunsTheWidestKernelsTheCPUHas() {
        let haswell: Set<String> = ["avx", "avx2", "fma", "f16c", "bmi1", "bmi2", "abm", "movbe", "popcnt"]
        let skylakeX = haswell.union(["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"])
        XCTAssertTrue(KernelsCPU.supportsAVX2FMA(flags: haswell))
        XCTAssertFalse(KernelsCPU.supportsAVX512(flags: haswell), "Zen 1 / Haswell have no AVX-512")
        XCTAssertTrue(KernelsCPU.supportsAVX512(flags: skylakeX), "Skylake-SP, Ice Lake, Sapphire Rapids, Zen 4")
        XCTAssertTrue(KernelsCPU.supportsAVX512(flags: skylakeX.union(["avx512_bf16", "amx_bf16", "amx_tile"])))
        XCTAssertFalse(KernelsCPU.supportsAVX512(flags: haswell.union(["avx512f", "avx512cd"])), "Xeon Phi: no BW / DQ / VL")
        XCTAssertFalse(KernelsCPU.supportsAVX2FMA(flags: ["avx", "avx2"]), "AVX2 without FMA")
        XCTAssertFalse(KernelsCPU.supportsAVX512(flags: skylakeX.subtracting(["fma"])))

        let text = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        guard let line = text.split(separator: "\n").first(where: { $0.hasPrefix("flags") }) else {
            XCTAssertEqual(AttentionScratch<Float>(seq: 901, headDim: 32).kernels(path: .automatic), .portable, "no CPU flags: portable")
            return
        }
        let flags = Set(line.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init))
        let environment = ProcessInfo.processInfo.environment
        var expected = AttentionKernels.portable
        if environment["ARC_KERNELS_NO_AVX2"] == nil && flags.isSuperset(of: ["avx", "avx2", "fma", "f16c", "bmi1", "bmi2", "abm", "movbe", "popcnt"]) {
            expected = .avx2
        }
        if expected == .avx2 && environment["ARC_KERNELS_NO_AVX512"] == nil
            && flags.isSuperset(of: ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl", "f16c", "bmi1", "bmi2", "abm", "movbe", "popcnt"]) {
            expected = .avx512
        }
        print("CPU AVX2+FMA \(flags.isSuperset(of: ["avx2", "fma"])), AVX-512 \(flags.contains("avx512f")): expected \(expected.rawValue)")
        // the model's head dims (32: cpu-bench, cpu; 64: the paper) on the default tiles
        for headDim in [32, 64] {
            let scratch = AttentionScratch<Float>(seq: 901, headDim: headDim)
            XCTAssertEqual(scratch.kernels(path: .automatic), expected, "head dim \(headDim)")
            XCTAssertEqual(scratch.kernels(path: .avx2), expected == .portable ? .portable : .avx2, "head dim \(headDim)")
        }
        // 8 lanes where 16 do not fit (head dim 8 or 24; key tiles of 24 or 72)
        let narrow = expected == .portable ? AttentionKernels.portable : .avx2
        XCTAssertEqual(AttentionScratch<Float>(seq: 37, headDim: 8).kernels(path: .automatic), narrow)
        XCTAssertEqual(AttentionScratch<Float>(seq: 37, headDim: 24).kernels(path: .automatic), narrow)
        XCTAssertEqual(AttentionScratch<Float>(seq: 37, headDim: 32, keyTile: 72).kernels(path: .automatic), narrow)
        XCTAssertEqual(AttentionScratch<Float>(seq: 37, headDim: 32, queryTile: 8).kernels(path: .automatic), .portable, "query tile not a multiple of 6")
        XCTAssertEqual(AttentionScratch<Double>(seq: 37, headDim: 32).kernels(path: .automatic), .portable, "Double")
    }

    /// Shapes for the 16-lane kernels: head dims multiple of 16, key tiles multiple of 48, sequences
    /// that end mid-vector (1, 29, 37, 61, 145, 257) and on a vector (32, 48, 96), one and several
    /// forward tiles, large scores (the online rescaling and a row maximum beyond the exp's range).
    static let sixteenLaneShapes: [Shape] = [
        Shape(batch: 1, seq: 1, heads: 1, headDim: 16, queryTile: 6, keyTile: 48),
        Shape(batch: 2, seq: 37, heads: 2, headDim: 16, queryTile: 12, keyTile: 48, forwardTile: 48),
        Shape(batch: 1, seq: 29, heads: 2, headDim: 32, queryTile: 6, keyTile: 48, magnitude: 4, forwardTile: 96),
        Shape(batch: 1, seq: 61, heads: 2, headDim: 32, queryTile: 12, keyTile: 48, magnitude: 16, forwardTile: 48, tolerance: 1e-4),
        Shape(batch: 2, seq: 32, heads: 2, headDim: 16, queryTile: 6, keyTile: 48, magnitude: 16, forwardTile: 48, tolerance: 1e-4),
        Shape(batch: 1, seq: 96, heads: 1, headDim: 32, queryTile: 18, keyTile: 48, magnitude: 3, forwardTile: 48),
        Shape(batch: 2, seq: 145, heads: 2, headDim: 32),
        Shape(batch: 1, seq: 145, heads: 1, headDim: 64, queryTile: 18, keyTile: 48),
        // head dims that are odd multiples of 16: the 2-vector and 1-vector tiles both along the head dim
        Shape(batch: 2, seq: 53, heads: 2, headDim: 48, queryTile: 12, keyTile: 48, magnitude: 3, forwardTile: 96),
        Shape(batch: 1, seq: 70, heads: 1, headDim: 80, queryTile: 6, keyTile: 96, forwardTile: 48),
        Shape(batch: 1, seq: 257, heads: 1, headDim: 64, queryTile: 30, keyTile: 96, magnitude: 3, forwardTile: 144),
        Shape(batch: 1, seq: 901, heads: 1, headDim: 32, magnitude: 2, forwardTile: flashForwardKeyTile),
    ]

    /// The 16-lane kernels (KernelsAVX512's source, built for AVX2 as KernelsLanes16) over every
    /// (batch, head) pair as the driver runs them, on a NaN-filled workspace (a value read before it
    /// is written shows), one worker.
    static func sixteenLanes(_ shape: Shape, _ qkv: Tensor<Float>, _ dout: Tensor<Float>) -> Result {
        let seq = shape.seq, dim = shape.dim, headDim = shape.headDim, rows = shape.batch * seq
        let paddedSeq = (seq + shape.keyTile - 1) / shape.keyTile * shape.keyTile
        let count = KernelsLanes16.flashWorkspaceCount(
            paddedSeq: paddedSeq, headDim: headDim, queryTile: shape.queryTile, keyTile: shape.keyTile, forwardKeyTile: shape.forwardKeyTile)
        // 256 guard floats past the end: a write beyond the workspace changes them
        let guardValue: Float = 12345.678
        var workspace = [Float](repeating: .nan, count: count) + [Float](repeating: guardValue, count: 256)
        func checkGuard(_ stage: String) {
            XCTAssert(workspace[count...].allSatisfy { $0 == guardValue }, "\(shape.name): the 16-lane \(stage) wrote past its workspace")
        }
        let out = Tensor<Float>(shape: [rows, dim]), lse = Tensor<Float>(shape: [shape.batch * shape.heads * seq])
        let dqkv = Tensor<Float>(shape: [rows, 3 * dim])
        for i in 0..<dqkv.count { dqkv[i] = .nan }
        let scale = 1 / Float(headDim).squareRoot()
        for pair in 0..<(shape.batch * shape.heads) {
            let b = pair / shape.heads, h = pair % shape.heads
            let offset = b * seq * 3 * dim + h * headDim, q = UnsafePointer(qkv.pointer + offset)
            let o = out.pointer + b * seq * dim + h * headDim, rowLSE = lse.pointer + pair * seq
            workspace.withUnsafeMutableBufferPointer { work in
                KernelsLanes16.flashAttentionForwardPair(
                    o, outStride: dim, logSumExp: rowLSE, q: q, k: q + dim, v: q + 2 * dim, qkvStride: 3 * dim, seq: seq, headDim: headDim,
                    scale: scale, queryTile: shape.queryTile, keyTile: shape.keyTile, forwardKeyTile: shape.forwardKeyTile, paddedSeq: paddedSeq,
                    workspace: work.baseAddress!)
            }
        }
        checkGuard("forward")
        for pair in 0..<(shape.batch * shape.heads) {
            // NaN again: the backward must not read what the forward (or the last pair) left behind
            for i in 0..<count { workspace[i] = .nan }
            let b = pair / shape.heads, h = pair % shape.heads
            let offset = b * seq * 3 * dim + h * headDim, q = UnsafePointer(qkv.pointer + offset), dq = dqkv.pointer + offset
            let o = UnsafePointer(out.pointer + b * seq * dim + h * headDim), dO = UnsafePointer(dout.pointer + b * seq * dim + h * headDim)
            workspace.withUnsafeMutableBufferPointer { work in
                KernelsLanes16.flashAttentionBackwardPair(
                    dq: dq, dk: dq + dim, dv: dq + 2 * dim, dqkvStride: 3 * dim, dout: dO, out: o, outStride: dim,
                    logSumExp: UnsafePointer(lse.pointer + pair * seq), q: q, k: q + dim, v: q + 2 * dim, qkvStride: 3 * dim, seq: seq,
                    headDim: headDim, scale: scale, queryTile: shape.queryTile, keyTile: shape.keyTile, forwardKeyTile: shape.forwardKeyTile,
                    paddedSeq: paddedSeq, workspace: work.baseAddress!)
            }
        }
        checkGuard("backward")
        return Result(out: out.array, logSumExp: lse.array, dq: split(dqkv, shape, part: 0), dk: split(dqkv, shape, part: 1), dv: split(dqkv, shape, part: 2))
    }

    /// KernelsLanes16 as a FlashAttentionBuild (TestHelpers): the 16-lane code through the driver's own calls.
    static let sixteenLaneBuild = LaneBuilds.sixteen

    static func flash(_ shape: Shape, _ qkv: Tensor<Float>, _ dout: Tensor<Float>, build: FlashAttentionBuild) -> Result {
        let rows = shape.batch * shape.seq
        let scratch = AttentionScratch<Float>(seq: shape.seq, headDim: shape.headDim, workers: 2, queryTile: shape.queryTile, keyTile: shape.keyTile,
                                              forwardKeyTile: shape.forwardKeyTile, extraBuilds: [build])
        XCTAssertTrue(scratch.runs(build), shape.name)
        for i in 0..<scratch.workspace.count { scratch.workspace[i] = .nan }
        let out = Tensor<Float>(shape: [rows, shape.dim]), lse = Tensor<Float>(shape: [shape.batch * shape.heads * shape.seq])
        let dqkv = Tensor<Float>(shape: [rows, 3 * shape.dim])
        for i in 0..<dqkv.count { dqkv[i] = .nan }
        attentionForward(out.pointer, logSumExp: lse.pointer, qkv.pointer, scratch: scratch,
                         batch: shape.batch, seq: shape.seq, heads: shape.heads, headDim: shape.headDim, build: build)
        attentionBackward(dqkv.pointer, dout.pointer, out.pointer, logSumExp: lse.pointer, qkv.pointer, scratch: scratch,
                          batch: shape.batch, seq: shape.seq, heads: shape.heads, headDim: shape.headDim, build: build)
        return Result(out: out.array, logSumExp: lse.array, dq: split(dqkv, shape, part: 0), dk: split(dqkv, shape, part: 1), dv: split(dqkv, shape, part: 2))
    }

    /// The 16-lane kernels against the blocked kernel and the portable tiles. They run here whatever the
    /// CPU's width (built for AVX2, a 16-lane vector is two registers): the AVX-512 module compiles
    /// the same file, so this checks its tiling, tails and masks on every AVX2 machine.
    func testSixteenLaneKernelsMatchBlockedAndPortable() {
        guard KernelsCPU.hasAVX2FMA else {
            XCTAssertEqual(AttentionScratch<Float>(seq: 145, headDim: 32).kernels(path: .automatic), .portable)
            return
        }
        XCTAssertEqual(KernelsLanes16.flashAttentionLaneCount(), 16, "KernelsLanes16 must build the 16-lane kernels")
        XCTAssertEqual(KernelsAVX2.flashAttentionLaneCount(), 8)
        for (index, shape) in Self.sixteenLaneShapes.enumerated() {
            XCTAssert(Self.sixteenLaneBuild.fits(headDim: shape.headDim, queryTile: shape.queryTile, keyTile: shape.keyTile, forwardKeyTile: shape.forwardKeyTile), shape.name)
            let (qkv, dout) = Self.inputs(shape, seed: UInt64(600 + index))
            let wide = Self.sixteenLanes(shape, qkv, dout)
            compare("16 lanes vs blocked, \(shape.name)", wide, Self.blocked(shape, qkv, dout), tolerance: shape.tolerance)
            // through the driver on two workers: the same numbers, bit for bit (one worker per pair)
            let driven = Self.flash(shape, qkv, dout, build: Self.sixteenLaneBuild)
            XCTAssertEqual(driven.out, wide.out, "16 lanes through the driver, \(shape.name)")
            XCTAssertEqual(driven.logSumExp, wide.logSumExp, "16 lanes through the driver, \(shape.name)")
            XCTAssertEqual(driven.dq + driven.dk + driven.dv, wide.dq + wide.dk + wide.dv, "16 lanes through the driver, \(shape.name)")
            let portable = Self.flash(shape, qkv, dout, path: .portable)
            compare("16 lanes vs portable, \(shape.name)", wide, portable, tolerance: shape.tolerance)
            assertRelativeToMaximum("16 lanes vs portable lse, \(shape.name)", wide.logSumExp, portable.logSumExp, tolerance: 2e-6)
        }
    }

    /// lse[b, h, i] = log sum_j exp(q_i . k_j / sqrt(hd)), computed naively in Double, both paths.
    func testLogSumExpMatchesNaive() {
        for (index, shape) in Self.shapes.enumerated() {
            let (qkv, dout) = Self.inputs(shape, seed: UInt64(300 + index))
            let dim = shape.dim
            var expected = [Float]()
            for b in 0..<shape.batch {
                for h in 0..<shape.heads {
                    for i in 0..<shape.seq {
                        var scores = [Double]()
                        for j in 0..<shape.seq {
                            var s = 0.0
                            for d in 0..<shape.headDim {
                                s += Double(qkv[(b * shape.seq + i) * 3 * dim + h * shape.headDim + d]) * Double(qkv[(b * shape.seq + j) * 3 * dim + dim + h * shape.headDim + d])
                            }
                            scores.append(s / Double(shape.headDim).squareRoot())
                        }
                        let m = scores.max()!
                        expected.append(Float(m + log(scores.reduce(0) { $0 + exp($1 - m) })))
                    }
                }
            }
            for path in [AttentionPath.automatic, .portable] {
                let lse = Self.flash(shape, qkv, dout, path: path).logSumExp
                XCTAssertEqual(lse.count, expected.count)
                for (a, e) in zip(lse, expected) {
                    XCTAssertEqual(Double(a), Double(e), accuracy: 1e-5 + 1e-5 * abs(Double(e)), "\(shape.name) \(path)")
                }
            }
        }
    }

    /// Bitwise the same results with 1 and 2 worker threads.
    func testResultsDoNotDependOnThreads() {
        let shape = Shape(batch: 3, seq: 37, heads: 3, headDim: 32, queryTile: 12, keyTile: 24)
        let (qkv, dout) = Self.inputs(shape, seed: 400)
        KernelThreads.configure(threads: 1)
        let one = Self.flash(shape, qkv, dout, path: .automatic)
        KernelThreads.configure(threads: 2)
        let two = Self.flash(shape, qkv, dout, path: .automatic)
        XCTAssertEqual(one.out, two.out)
        XCTAssertEqual(one.dq + one.dk + one.dv, two.dq + two.dk + two.dv)
    }

    /// Central finite differences (Double, the portable path) of loss = sum(dO * out) against the
    /// recomputing backward, on several query and key tiles; helper tolerance |diff| <= 1e-8 + 1e-6 |fd|.
    func testGradientFiniteDifferencesDouble() {
        for (seq, heads, headDim, queryTile, keyTile, magnitude) in [(7, 2, 4, 3, 2, 1.0), (30, 1, 8, 6, 24, 3.0), (1, 2, 4, 6, 24, 1.0)] {
            var generator = SplitMix64(seed: UInt64(500 + seq))
            let batch = 2, dim = heads * headDim
            let qkv = randomTensor([batch * seq, 3 * dim], &generator, scale: magnitude), r = randomTensor([batch * seq, dim], &generator)
            let out = Tensor<Double>(shape: [batch * seq, dim]), lse = Tensor<Double>(shape: [batch * heads * seq])
            let scratch = AttentionScratch<Double>(seq: seq, headDim: headDim, workers: 3, queryTile: queryTile, keyTile: keyTile, forwardKeyTile: keyTile)
            func loss() -> Double {
                attentionForward(out.pointer, logSumExp: lse.pointer, qkv.pointer, scratch: scratch, batch: batch, seq: seq, heads: heads, headDim: headDim)
                return dot(out, r)
            }
            _ = loss()
            // value check against a naive softmax for the last query of (b = 1, head = heads - 1)
            let b = 1, h = heads - 1, query = seq - 1
            var scores = [Double]()
            for key in 0..<seq {
                var s = 0.0
                for d in 0..<headDim { s += qkv[(b * seq + query) * 3 * dim + h * headDim + d] * qkv[(b * seq + key) * 3 * dim + dim + h * headDim + d] }
                scores.append(s / Double(headDim).squareRoot())
            }
            let m = scores.max()!, e = scores.map { exp($0 - m) }, z = e.reduce(0, +)
            for d in 0..<headDim {
                var v = 0.0
                for key in 0..<seq { v += e[key] / z * qkv[(b * seq + key) * 3 * dim + 2 * dim + h * headDim + d] }
                XCTAssertEqual(out[(b * seq + query) * dim + h * headDim + d], v, accuracy: 1e-12)
            }
            let dqkv = Tensor<Double>(shape: [batch * seq, 3 * dim])
            attentionBackward(dqkv.pointer, r.pointer, out.pointer, logSumExp: lse.pointer, qkv.pointer, scratch: scratch, batch: batch, seq: seq, heads: heads, headDim: headDim)
            finiteDifferenceCheck("flash attention S \(seq) dqkv", parameter: qkv.pointer, count: qkv.count, analytic: dqkv.array, maxChecks: 400, loss: loss)
        }
    }
}
