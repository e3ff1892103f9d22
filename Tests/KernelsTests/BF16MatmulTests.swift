// Tests of the bf16 matmuls (BFloat16.swift, BF16Matmul.swift, PrecisionChoice.swift): rounding to
// nearest even bit by bit, the vector converters against the scalar one, the bf16 linear layers
// against fp32 products of pre-rounded operands (tight: 1e-5 relative) and against plain fp32 (the
// rounding must show), the engine's self-check, and how --precision resolves on this CPU and on
// described ones.
import Kernels
import KernelsAVX2
import KernelsAVX512
import KernelsLanes16
import XCTest

final class BF16MatmulTests: XCTestCase {
    override func setUp() { KernelThreads.configure(threads: 2) }

    func testRoundingIsToNearestEvenBitByBit() {
        let cases: [(UInt32, UInt16)] = [
            (0x3F80_0000, 0x3F80),  // 1
            (0x3F80_8000, 0x3F80),  // halfway, even below: stays
            (0x3F81_8000, 0x3F82),  // halfway, odd below: up to even
            (0x3F80_8001, 0x3F81),  // above halfway: up
            (0x3F80_7FFF, 0x3F80),  // below halfway: down
            (0x8000_0000, 0x8000),  // -0
            (0x7F7F_FFFF, 0x7F80),  // largest finite rounds to +inf
            (0xFF7F_FFFF, 0xFF80),  // and its negative to -inf
            (0x7F80_0000, 0x7F80),  // +inf
            (0x0000_0001, 0x0000),  // smallest subnormal rounds to 0
            (0x0001_8000, 0x0002),  // subnormal tie to even
        ]
        for (bits, expected) in cases {
            XCTAssertEqual(bfloat16Bits(Float(bitPattern: bits)), expected, String(format: "0x%08x", bits))
        }
        let nan = bfloat16Bits(Float(bitPattern: 0x7F80_0001))  // signalling NaN with only low bits set
        XCTAssertTrue(bfloat16Value(nan).isNaN, "a NaN must stay NaN, not become inf")
        XCTAssertEqual(roundedToBFloat16(1.00390625), 1)  // 1 + 2^-8: a tie, to even
        XCTAssertEqual(roundedToBFloat16(3.14159265), 3.140625)
    }

    /// Every build of the converters (dispatched, portable SIMD8, VectorMath's 8 lanes, its 16 lanes built
    /// for AVX2, and its AVX-512 build where the CPU has it) against the scalar one, with the special
    /// values both inside the vector part and in the tail.
    func testVectorConvertersMatchTheScalarOne() {
        var generator = SplitMix64(seed: 3)
        let specials: [Float] = [.nan, .infinity, -.infinity, 0, -0.0, .greatestFiniteMagnitude, Float(bitPattern: 0x3F81_8000),
                                 Float(bitPattern: 0x0001_8000), Float(bitPattern: 0x7F80_0001), -Float.nan, Float(bitPattern: 0x3F80_8000)]
        var values = (0..<37).map { _ in Float(generator.nextUnit() * 200 - 100) } + specials
        values += (0..<40).map { _ in Float(generator.nextUnit() * 2e-3 - 1e-3) } + specials
        typealias Converters = (String, (UnsafeMutablePointer<UInt16>, UnsafePointer<Float>, Int) -> Void,
                                (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void)
        var builds: [Converters] = [
            ("dispatched", { convertToBFloat16($0, $1, count: $2) }, { roundToBFloat16($0, $1, count: $2) }),
            ("portable SIMD8", { portableConvertToBFloat16($0, $1, count: $2) }, { portableRoundToBFloat16($0, $1, count: $2) }),
        ]
        if KernelsCPU.hasAVX2FMA {
            builds.append(("AVX2", KernelsAVX2.lanesConvertToBFloat16, KernelsAVX2.lanesRoundToBFloat16))
            builds.append(("16 lanes", KernelsLanes16.lanesConvertToBFloat16, KernelsLanes16.lanesRoundToBFloat16))
        }
        if KernelsCPU.hasAVX512 { builds.append(("AVX-512", KernelsAVX512.lanesConvertToBFloat16, KernelsAVX512.lanesRoundToBFloat16)) }
        for (name, convert, round) in builds {
            var bits = [UInt16](repeating: 0, count: values.count)
            var rounded = [Float](repeating: 0, count: values.count)
            values.withUnsafeBufferPointer { v in
                convert(&bits, v.baseAddress!, v.count)
                round(&rounded, v.baseAddress!, v.count)
            }
            for (i, value) in values.enumerated() {
                let expected = bfloat16Bits(value)
                if value.isNaN {
                    XCTAssertTrue(bfloat16Value(bits[i]).isNaN && rounded[i].isNaN, "\(name) element \(i): NaN")
                    XCTAssertEqual(bits[i], expected, "\(name) element \(i): the NaN's bits")
                } else {
                    XCTAssertEqual(bits[i], expected, "\(name) element \(i) (\(value))")
                    XCTAssertEqual(rounded[i].bitPattern, bfloat16Value(expected).bitPattern, "\(name) element \(i) (\(value))")
                }
            }
            // in place
            var inPlace = values
            inPlace.withUnsafeMutableBufferPointer { round($0.baseAddress!, $0.baseAddress!, $0.count) }
            XCTAssertEqual(inPlace.map(\.bitPattern), rounded.map(\.bitPattern), "\(name): in place")
        }
    }

    /// Random [rows, columns] in (-1, 1).
    func random(_ count: Int, _ generator: inout SplitMix64) -> [Float] {
        (0..<count).map { _ in Float(generator.nextUnit() * 2 - 1) }
    }

    func rounded(_ x: [Float]) -> [Float] { x.map(roundedToBFloat16) }

    /// Every engine this machine has: emulated, and oneDNN's when it passed its check here.
    var engines: [BF16Matmul] {
        var all = [BF16Matmul(engine: .emulated)]
        if case .available(let library) = PrecisionChoice.native { all.append(BF16Matmul(engine: .oneDNN(library))) }
        return all
    }

    /// Small shapes run on the calling thread; 300 x 128 x 64 is big enough for every parallel path
    /// (row blocks of the product, the weight gradient split over output features, parallel conversion)
    /// on the 2 kernel threads of setUp. Tolerances: (tight, loose bound) per shape.
    static let shapes: [(rows: Int, inFeatures: Int, outFeatures: Int, tight: Double, loose: Double)] = [
        (37, 48, 20, 1e-5, 0.05), (29, 24, 40, 1e-5, 0.05), (300, 128, 64, 1e-4, 0.1)]

    func testParallelShapeReachesTheParallelPaths() {
        let big = Self.shapes[2]
        XCTAssertGreaterThanOrEqual(KernelThreads.count, 2)
        XCTAssertGreaterThanOrEqual(big.rows * big.inFeatures * big.outFeatures, 1 << 20, "row blocks (parallelGemmRows' threshold)")
        XCTAssertGreaterThanOrEqual(big.outFeatures, 16 * KernelThreads.count, "weight gradient split over output features")
        XCTAssertGreaterThanOrEqual(big.rows * big.inFeatures, 32_768, "parallel conversion (parallelChunks' threshold)")
    }

    func testLinearForwardIsTheFP32ProductOfRoundedOperands() {
        for shape in Self.shapes { checkLinearForward(rows: shape.rows, inFeatures: shape.inFeatures, outFeatures: shape.outFeatures, tightBound: shape.tight, looseBound: shape.loose) }
    }

    func checkLinearForward(rows: Int, inFeatures: Int, outFeatures: Int, tightBound: Double, looseBound: Double) {
        var generator = SplitMix64(seed: 11)
        let inp = random(rows * inFeatures, &generator), weight = random(outFeatures * inFeatures, &generator)
        let bias = random(outFeatures, &generator)
        var reference = [Float](repeating: 0, count: rows * outFeatures), plain = reference
        linearForward(&reference, rounded(inp), rounded(weight), bias, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        linearForward(&plain, inp, weight, bias, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        for engine in engines {
            var out = [Float](repeating: .nan, count: rows * outFeatures)
            bf16LinearForward(&out, inp, weight, bias, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures,
                              matmul: engine, workspace: BF16Workspace())
            let tight = maxDifference(out, reference)
            let loose = maxDifference(out, plain)
            XCTAssertLessThan(tight, tightBound, "\(engine.engine) \(rows)x\(inFeatures)x\(outFeatures): against fp32 on rounded operands")
            XCTAssertGreaterThan(loose, 1e-4, "\(engine.engine): bf16 rounding must show against plain fp32")
            XCTAssertLessThan(loose, looseBound, "\(engine.engine) \(rows)x\(inFeatures)x\(outFeatures): against plain fp32 (products of 2^-9-rounded operands)")
        }
    }

    func testLinearBackwardIsTheFP32ProductOfRoundedOperands() {
        for shape in Self.shapes { checkLinearBackward(rows: shape.rows, inFeatures: shape.inFeatures, outFeatures: shape.outFeatures, tightBound: shape.tight) }
    }

    func checkLinearBackward(rows: Int, inFeatures: Int, outFeatures: Int, tightBound: Double) {
        var generator = SplitMix64(seed: 12)
        let inp = random(rows * inFeatures, &generator), weight = random(outFeatures * inFeatures, &generator)
        let dout = random(rows * outFeatures, &generator)
        let startInput = random(rows * inFeatures, &generator), startWeight = random(outFeatures * inFeatures, &generator)
        for accumulate in [false, true] {
            var dinpReference = startInput, dweightReference = startWeight, dbiasReference = [Float](repeating: 0.25, count: outFeatures)
            linearBackward(&dinpReference, &dweightReference, &dbiasReference, rounded(dout), rounded(inp), rounded(weight),
                           rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, accumulateInput: accumulate)
            // dbias is an fp32 sum of the unrounded dout.
            var dbiasExpected = [Float](repeating: 0.25, count: outFeatures)
            for r in 0..<rows { for o in 0..<outFeatures { dbiasExpected[o] += dout[r * outFeatures + o] } }
            for engine in engines {
                var dinp = startInput, dweight = startWeight, dbias = [Float](repeating: 0.25, count: outFeatures)
                bf16LinearBackward(&dinp, &dweight, &dbias, dout, inp, weight, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures,
                                   accumulateInput: accumulate, matmul: engine, workspace: BF16Workspace())
                let shape = "\(rows)x\(inFeatures)x\(outFeatures)"
                XCTAssertLessThan(maxDifference(dinp, dinpReference), tightBound, "\(engine.engine) \(shape) dinp, accumulate \(accumulate)")
                XCTAssertLessThan(maxDifference(dweight, dweightReference), tightBound * Double(rows) / 29, "\(engine.engine) \(shape) dweight (accumulated)")
                XCTAssertLessThan(maxDifference(dbias, dbiasExpected), tightBound * Double(rows) / 29, "\(engine.engine) \(shape) dbias")
            }
        }
    }

    /// One workspace through layers of different sizes (it grows, then is reused) gives what fresh ones give.
    func testWorkspaceReuseAcrossSizes() {
        var generator = SplitMix64(seed: 13)
        let workspace = BF16Workspace()
        let engine = BF16Matmul(engine: .emulated)
        for (rows, inFeatures, outFeatures) in [(5, 8, 4), (64, 32, 96), (3, 16, 8), (64, 32, 96)] {
            let inp = random(rows * inFeatures, &generator), weight = random(outFeatures * inFeatures, &generator)
            var shared = [Float](repeating: 0, count: rows * outFeatures), fresh = shared
            bf16LinearForward(&shared, inp, weight, nil, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, matmul: engine, workspace: workspace)
            bf16LinearForward(&fresh, inp, weight, nil, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, matmul: engine, workspace: BF16Workspace())
            XCTAssertEqual(shared, fresh, "\(rows)x\(inFeatures)x\(outFeatures)")
        }
    }

    func testPlainGemmFallbackMatchesTheEmulatedEngine() {
        var generator = SplitMix64(seed: 14)
        let m = 9, n = 7, k = 13
        let a = random(m * k, &generator), b = random(n * k, &generator)
        let a16 = a.map(bfloat16Bits), b16 = b.map(bfloat16Bits)
        for (transposeA, transposeB) in [(false, false), (false, true), (true, false), (true, true)] {
            let lda = transposeA ? m : k, ldb = transposeB ? k : n
            var plain = [Float](repeating: 1, count: m * n), emulated = plain
            BF16Matmul.plainGemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 2, a: a16, lda: lda, b: b16, ldb: ldb,
                                 beta: 0.5, c: &plain, ldc: n)
            let ra = rounded(a), rb = rounded(b)
            ra.withUnsafeBytes { ra in
                rb.withUnsafeBytes { rb in
                    BF16Matmul(engine: .emulated).gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 2,
                                                       a: ra.baseAddress!, lda: lda, b: rb.baseAddress!, ldb: ldb, beta: 0.5, c: &emulated, ldc: n)
                }
            }
            XCTAssertLessThan(maxDifference(plain, emulated), 1e-5, "transposes \(transposeA) \(transposeB)")
        }
    }

    /// What --precision resolves to on this machine, asserted for the CPU at hand either way.
    func testPrecisionOnThisCPU() throws {
        let fp32 = PrecisionChoice.choose(.fp32)
        XCTAssertEqual(fp32.precision, .fp32)
        XCTAssertNil(fp32.matmul)
        let forced = PrecisionChoice.choose(.bf16)
        XCTAssertEqual(forced.precision, .bf16)
        let engine = try XCTUnwrap(forced.matmul)
        let auto = PrecisionChoice.choose(.auto)
        if PrecisionChoice.cpuHasBF16Instructions, BLASBackend.oneDNN != nil {
            // oneDNN 2.6 runs bf16 products on AVX512_BF16 / AMX CPUs: it must pass its check here.
            guard case .available = PrecisionChoice.native else {
                return XCTFail("this CPU has bf16 instructions but oneDNN's bf16 product is not used: \(forced.description)")
            }
            XCTAssertTrue(engine.isNative, forced.description)
            XCTAssertTrue(auto.description.contains("the fp32 product on a 2048x512x128 product here"), auto.description)
        } else {
            XCTAssertEqual(auto.precision, .fp32, "auto on a CPU without bf16 instructions: \(auto.description)")
            XCTAssertNil(auto.matmul)
            if !PrecisionChoice.cpuHasBF16Instructions {
                XCTAssertTrue(auto.description.contains("no bf16 matmul instructions"), auto.description)
            }
            if case .available = PrecisionChoice.native {
                XCTAssertTrue(engine.isNative)
            } else {
                XCTAssertFalse(engine.isNative)
                XCTAssertTrue(forced.description.contains("EMULATED"), forced.description)
            }
        }
        XCTAssertEqual(PrecisionChoice.selfCheck(engine) == .passed, true, "the engine --precision bf16 runs passes the self-check")
    }

    /// The rules of auto, on described machines.
    func testAutoRules() throws {
        let library = try XCTUnwrap(OneDNN.library, "CI installs libdnnl2")
        let available = PrecisionChoice.Native.available(library)
        let missing = PrecisionChoice.Native.unavailable("oneDNN 2.6.3 refuses bf16 products on this CPU")
        var timed = false
        // No instructions: fp32, and the speed is never measured.
        let plain = PrecisionChoice.choose(.auto, cpuHasInstructions: false, native: available, speedup: { timed = true; return 5 })
        XCTAssertEqual(plain.precision, .fp32)
        XCTAssertFalse(timed)
        // Instructions, but oneDNN's product unusable: fp32 with the reason.
        let refused = PrecisionChoice.choose(.auto, cpuHasInstructions: true, native: missing, speedup: { 5 })
        XCTAssertEqual(refused.precision, .fp32)
        XCTAssertTrue(refused.description.contains("refuses"), refused.description)
        // Usable but not faster: fp32, the measured ratio said.
        let slow = PrecisionChoice.choose(.auto, cpuHasInstructions: true, native: available, speedup: { 1.1 })
        XCTAssertEqual(slow.precision, .fp32)
        XCTAssertTrue(slow.description.contains("1.10x"), slow.description)
        // Usable and faster: bf16 on oneDNN.
        let fast = PrecisionChoice.choose(.auto, cpuHasInstructions: true, native: available, speedup: { 3.5 })
        XCTAssertEqual(fast.precision, .bf16)
        XCTAssertEqual(fast.matmul?.isNative, true)
        XCTAssertTrue(fast.description.contains("3.50x"), fast.description)
        // An explicit bf16 request without oneDNN's product: emulated, said.
        let emulated = PrecisionChoice.choose(.bf16, cpuHasInstructions: false, native: missing, speedup: { nil })
        XCTAssertEqual(emulated.matmul?.isNative, false)
        XCTAssertTrue(emulated.description.contains("EMULATED"), emulated.description)
        XCTAssertTrue(PrecisionChoice.hasBF16Instructions(flags: ["avx2", "amx_bf16"]))
        XCTAssertTrue(PrecisionChoice.hasBF16Instructions(flags: ["avx512_bf16"]))
        XCTAssertFalse(PrecisionChoice.hasBF16Instructions(flags: ["avx512f", "avx512bw", "fma"]))
    }

    func maxDifference(_ a: [Float], _ b: [Float]) -> Double {
        XCTAssertEqual(a.count, b.count)
        var largest = 0.0
        for (x, y) in zip(a, b) {
            let d = abs(Double(x) - Double(y))
            if d > largest || d.isNaN { largest = d }
        }
        return largest
    }
}
