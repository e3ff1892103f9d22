// The flash attention kernel (Kernels/FlashAttention.swift, docs/SPEC.md §4 attention) against the blocked
// kernel (Attention.swift) in Float, the AVX2 kernels against the portable tiles, central finite
// differences in Double, the row log-sum-exp against a naive computation, and thread-count independence.
// Float tolerances: forward and gradients within 2e-5 of the largest reference magnitude (1e-4 for the
// shapes with scores spread far beyond the exp's range).
import Kernels
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
        }
    }

    /// The AVX2 kernels against the portable tiles on the same inputs (head dims multiple of 8).
    func testAVX2KernelsMatchPortableTiles() {
        guard KernelsCPU.hasAVX2FMA else {
            // Without AVX2 + FMA only the portable path exists: the automatic choice must say so.
            let scratch = AttentionScratch<Float>(seq: 145, headDim: 32)
            XCTAssertFalse(scratch.usesAVX2(path: .automatic), "the AVX2 kernels chosen on a CPU without AVX2 + FMA")
            return
        }
        for (index, shape) in Self.shapes.enumerated() where shape.headDim % 8 == 0 && shape.queryTile % 6 == 0 && shape.keyTile % 24 == 0
            && shape.forwardKeyTile % 24 == 0 {
            let (qkv, dout) = Self.inputs(shape, seed: UInt64(200 + index))
            let fast = Self.flash(shape, qkv, dout, path: .automatic), portable = Self.flash(shape, qkv, dout, path: .portable)
            compare("AVX2 vs portable, \(shape.name)", fast, portable, tolerance: shape.tolerance)
            assertRelativeToMaximum("AVX2 vs portable lse, \(shape.name)", fast.logSumExp, portable.logSumExp, tolerance: 2e-6)
            let scratch = shape.scratch
            XCTAssertTrue(scratch.usesAVX2(path: .automatic), "\(shape.name): the automatic path is the AVX2 one")
            XCTAssertFalse(scratch.usesAVX2(path: .portable))
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
