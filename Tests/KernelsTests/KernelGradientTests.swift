// Finite-difference gradient tests (Double) for every forward/backward kernel pair in Kernels.
// Loss = sum(output * R) for a fixed random R, so backward is called with dout = R.
import Kernels
import KernelsAVX2
import KernelsAVX512
import KernelsLanes16
import XCTest
import TestHelpers

final class KernelGradientTests: XCTestCase {
    override func setUp() { KernelThreads.configure(threads: 2) }

    func testLinearWithBiasGradients() {
        var g = SplitMix64(seed: 1)
        let rows = 5, inF = 7, outF = 4
        let x = randomTensor([rows, inF], &g), w = randomTensor([outF, inF], &g), bias = randomTensor([outF], &g)
        let r = randomTensor([rows, outF], &g)
        let out = Tensor<Double>(shape: [rows, outF])
        func loss() -> Double {
            linearForward(out.pointer, x.pointer, w.pointer, bias.pointer, rows: rows, inFeatures: inF, outFeatures: outF)
            return dot(out, r)
        }
        _ = loss()
        let dx = Tensor<Double>(shape: [rows, inF]), dw = Tensor<Double>(shape: [outF, inF]), db = Tensor<Double>(shape: [outF])
        linearBackward(dx.pointer, dw.pointer, db.pointer, r.pointer, x.pointer, w.pointer, rows: rows, inFeatures: inF, outFeatures: outF)
        finiteDifferenceCheck("linear.dinput", parameter: x.pointer, count: x.count, analytic: dx.array, loss: loss)
        finiteDifferenceCheck("linear.dweight", parameter: w.pointer, count: w.count, analytic: dw.array, loss: loss)
        finiteDifferenceCheck("linear.dbias", parameter: bias.pointer, count: bias.count, analytic: db.array, loss: loss)
        // Accumulation: a second backward adds to dweight and (with accumulateInput) to dinput.
        linearBackward(dx.pointer, dw.pointer, nil, r.pointer, x.pointer, w.pointer, rows: rows, inFeatures: inF, outFeatures: outF, accumulateInput: true)
        let dw1 = Tensor<Double>(shape: [outF, inF])
        linearBackward(nil, dw1.pointer, nil, r.pointer, x.pointer, w.pointer, rows: rows, inFeatures: inF, outFeatures: outF)
        for i in 0..<dw.count { XCTAssertEqual(dw[i], 2 * dw1[i], accuracy: 1e-12) }
    }

    func testLinearMatchesNaiveProduct() {
        var g = SplitMix64(seed: 2)
        let rows = 3, inF = 4, outF = 2
        let x = randomTensor([rows, inF], &g), w = randomTensor([outF, inF], &g)
        let out = Tensor<Double>(shape: [rows, outF])
        linearForward(out.pointer, x.pointer, w.pointer, nil, rows: rows, inFeatures: inF, outFeatures: outF)
        for i in 0..<rows {
            for o in 0..<outF {
                var s = 0.0
                for k in 0..<inF { s += x[i * inF + k] * w[o * inF + k] }
                XCTAssertEqual(out[i * outF + o], s, accuracy: 1e-12)
            }
        }
    }

    func testRMSNormGradientAndValue() {
        var g = SplitMix64(seed: 3)
        let rows = 4, dim = 6
        let x = randomTensor([rows, dim], &g), r = randomTensor([rows, dim], &g)
        let out = Tensor<Double>(shape: [rows, dim]), rstd = Tensor<Double>(shape: [rows])
        func loss() -> Double {
            rmsNormForward(out.pointer, rstd.pointer, x.pointer, rows: rows, dim: dim)
            return dot(out, r)
        }
        _ = loss()
        // value: mean of squares of the output = 1 - eps/(ms+eps)
        var ms = 0.0, msx = 0.0
        for j in 0..<dim { ms += out[j] * out[j]; msx += x[j] * x[j] }
        XCTAssertEqual(ms / Double(dim), (msx / Double(dim)) / (msx / Double(dim) + 1e-5), accuracy: 1e-12)
        let dx = Tensor<Double>(shape: [rows, dim])
        rmsNormBackward(dx.pointer, r.pointer, out.pointer, rstd.pointer, rows: rows, dim: dim)
        finiteDifferenceCheck("rms_norm.dinput", parameter: x.pointer, count: x.count, analytic: dx.array, loss: loss)
    }

    func testRoPEGradientAndRotation() {
        var g = SplitMix64(seed: 4)
        let batch = 2, seq = 5, heads = 2, headDim = 4, dim = heads * headDim
        let table = RotaryTable<Double>(sequenceLength: seq, headDim: headDim)
        let x = randomTensor([batch * seq, 3 * dim], &g), r = randomTensor([batch * seq, 3 * dim], &g)
        let work = Tensor<Double>(shape: [batch * seq, 3 * dim])
        func loss() -> Double {
            work.copy(from: x)
            ropeApply(work.pointer, table: table, inverse: false, batch: batch, seq: seq, heads: heads, headDim: headDim)
            return dot(work, r)
        }
        _ = loss()
        // v is untouched, position 0 is the identity, rotation preserves norms per half-pair.
        for row in 0..<(batch * seq) {
            for j in (2 * dim)..<(3 * dim) { XCTAssertEqual(work[row * 3 * dim + j], x[row * 3 * dim + j]) }
        }
        for j in 0..<(2 * dim) { XCTAssertEqual(work[j], x[j], accuracy: 1e-15) }
        // angle for position 3, pair i=1: 3 * 10000^(-2/4) = 0.03
        let row = 3, i = 1, half = headDim / 2
        let x1 = x[row * 3 * dim + i], x2 = x[row * 3 * dim + i + half], angle = 3.0 * pow(10000, -0.5)
        XCTAssertEqual(work[row * 3 * dim + i], x1 * cos(angle) - x2 * sin(angle), accuracy: 1e-14)
        XCTAssertEqual(work[row * 3 * dim + i + half], x2 * cos(angle) + x1 * sin(angle), accuracy: 1e-14)
        let dx = Tensor<Double>(shape: [batch * seq, 3 * dim])
        dx.copy(from: r)
        ropeApply(dx.pointer, table: table, inverse: true, batch: batch, seq: seq, heads: heads, headDim: headDim)
        finiteDifferenceCheck("rope.dinput", parameter: x.pointer, count: x.count, analytic: dx.array, loss: loss)
    }

    // The blocked kernel (the flash kernel's oracle; FlashAttentionTests checks the flash kernel).
    func testAttentionGradientAndValue() { checkAttention(blockRows: attentionBlockRows, name: "blocked attention") }
    /// Several query blocks per (batch, head) (blocks of 4, 4, 2 rows), 3 workers for 4 pairs.
    func testAttentionBlockedGradientAndValue() { checkAttention(blockRows: 4, workers: 3, seq: 10, name: "blocked attention(blocks of 4)") }

    func checkAttention(blockRows: Int, workers: Int = 2, seq: Int = 6, name: String) {
        var g = SplitMix64(seed: 5)
        let batch = 2, heads = 2, headDim = 4, dim = heads * headDim
        let qkv = randomTensor([batch * seq, 3 * dim], &g), r = randomTensor([batch * seq, dim], &g)
        let out = Tensor<Double>(shape: [batch * seq, dim])
        let scratch = BlockedAttentionScratch<Double>(seq: seq, workers: workers, blockRows: blockRows)
        func loss() -> Double {
            blockedAttentionForward(out.pointer, qkv.pointer, scratch: scratch, batch: batch, seq: seq, heads: heads, headDim: headDim)
            return dot(out, r)
        }
        _ = loss()
        // value check against a naive computation for (b=1, head=1, query=2)
        let b = 1, h = 1, query = seq - 1
        var scores = [Double](repeating: 0, count: seq)
        for key in 0..<seq {
            var s = 0.0
            for d in 0..<headDim {
                s += qkv[(b * seq + query) * 3 * dim + h * headDim + d] * qkv[(b * seq + key) * 3 * dim + dim + h * headDim + d]
            }
            scores[key] = s / Double(headDim).squareRoot()
        }
        let m = scores.max()!
        let e = scores.map { exp($0 - m) }
        let z = e.reduce(0, +)
        for d in 0..<headDim {
            var v = 0.0
            for key in 0..<seq { v += e[key] / z * qkv[(b * seq + key) * 3 * dim + 2 * dim + h * headDim + d] }
            XCTAssertEqual(out[(b * seq + query) * dim + h * headDim + d], v, accuracy: 1e-12)
        }
        let dqkv = Tensor<Double>(shape: [batch * seq, 3 * dim])
        blockedAttentionBackward(dqkv.pointer, r.pointer, qkv.pointer, scratch: scratch, batch: batch, seq: seq, heads: heads, headDim: headDim)
        finiteDifferenceCheck("\(name).dqkv", parameter: qkv.pointer, count: qkv.count, analytic: dqkv.array, maxChecks: 400, loss: loss)
    }

    func testSwiGLUGradient() {
        var g = SplitMix64(seed: 6)
        let rows = 3, inter = 5
        let gu = randomTensor([rows, 2 * inter], &g, scale: 3), r = randomTensor([rows, inter], &g)
        let out = Tensor<Double>(shape: [rows, inter])
        func loss() -> Double {
            swiGLUForward(out.pointer, gu.pointer, rows: rows, inter: inter)
            return dot(out, r)
        }
        _ = loss()
        let g0 = gu[0], u0 = gu[inter]
        XCTAssertEqual(out[0], g0 / (1 + exp(-g0)) * u0, accuracy: 1e-14)
        let dgu = Tensor<Double>(shape: [rows, 2 * inter])
        swiGLUBackward(dgu.pointer, r.pointer, gu.pointer, rows: rows, inter: inter)
        finiteDifferenceCheck("swiglu.dgate_up", parameter: gu.pointer, count: gu.count, analytic: dgu.array, loss: loss)
    }

    func testSwiGLUIntermediateSizes() {
        XCTAssertEqual(swiGLUIntermediateSize(dim: 512, expansion: 4), 1536)
        XCTAssertEqual(swiGLUIntermediateSize(dim: 128, expansion: 4), 512)
        XCTAssertEqual(swiGLUIntermediateSize(dim: 32, expansion: 4), 256)
    }

    func testInputEmbeddingGradients() {
        var g = SplitMix64(seed: 7)
        let batch = 2, tokens = 5, vocab = 4, dim = 3, ndim = 5, puzzleTokens = 2  // ndim 5 -> padded to 6
        let seq = puzzleTokens + tokens
        let table = randomTensor([vocab, dim], &g), rows = randomTensor([batch, ndim], &g)
        let r = randomTensor([batch, seq, dim], &g)
        let inputs: [Int32] = [0, 1, 2, 3, 1, 3, 3, 0, 2, 1]
        let out = Tensor<Double>(shape: [batch, seq, dim])
        let scale = Double(dim).squareRoot()
        func loss() -> Double {
            inputs.withUnsafeBufferPointer { ip in
                inputEmbeddingForward(out.pointer, ip.baseAddress!, table.pointer, rows.pointer, batch: batch, tokens: tokens, vocab: vocab, puzzleTokens: puzzleTokens, ndim: ndim, dim: dim, scale: scale)
            }
            return dot(out, r)
        }
        _ = loss()
        XCTAssertEqual(out[5], 0)  // zero padding of the puzzle row
        XCTAssertEqual(out[4], scale * rows[4])
        XCTAssertEqual(out[(seq + puzzleTokens + 1) * dim + 2], scale * table[3 * dim + 2])
        let dTable = Tensor<Double>(shape: [vocab, dim]), dRows = Tensor<Double>(shape: [batch, ndim])
        inputs.withUnsafeBufferPointer { ip in
            inputEmbeddingBackward(dTable.pointer, dRows.pointer, r.pointer, ip.baseAddress!, batch: batch, tokens: tokens, puzzleTokens: puzzleTokens, ndim: ndim, dim: dim, scale: scale)
        }
        finiteDifferenceCheck("embedding.dtoken_table", parameter: table.pointer, count: table.count, analytic: dTable.array, loss: loss)
        finiteDifferenceCheck("embedding.dpuzzle_rows", parameter: rows.pointer, count: rows.count, analytic: dRows.array, loss: loss)
        // gather of puzzle rows
        let puzzleTable = randomTensor([4, ndim], &g)
        let gathered = Tensor<Double>(shape: [batch, ndim])
        let ids: [Int32] = [3, 1]
        ids.withUnsafeBufferPointer { puzzleRowsForward(gathered.pointer, puzzleTable.pointer, $0.baseAddress!, batch: batch, tableRows: 4, ndim: ndim) }
        for j in 0..<ndim {
            XCTAssertEqual(gathered[j], puzzleTable[3 * ndim + j])
            XCTAssertEqual(gathered[ndim + j], puzzleTable[ndim + j])
        }
    }

    func testStablemaxCrossEntropyGradientAndValue() {
        var g = SplitMix64(seed: 8)
        let batch = 2, tokens = 4, vocab = 5
        let logits = randomTensor([batch * tokens, vocab], &g, scale: 3)
        let labels: [Int32] = [1, -100, 4, 0, -100, -100, 2, 3]
        let dlogits = Tensor<Double>(shape: [batch * tokens, vocab])
        func loss() -> Double {
            labels.withUnsafeBufferPointer {
                sequenceStablemaxLoss(nil, logits.pointer, $0.baseAddress!, batch: batch, tokens: tokens, vocab: vocab, ignoreLabel: -100).loss
            }
        }
        let (value, counts) = labels.withUnsafeBufferPointer {
            sequenceStablemaxLoss(dlogits.pointer, logits.pointer, $0.baseAddress!, batch: batch, tokens: tokens, vocab: vocab, ignoreLabel: -100)
        }
        XCTAssertEqual(counts, [3, 2])
        // naive value
        func s(_ x: Double) -> Double { x >= 0 ? x + 1 : 1 / (1 - x) }
        var expected = 0.0
        for b in 0..<batch {
            var sum = 0.0
            for t in 0..<tokens where labels[b * tokens + t] != -100 {
                let row = (b * tokens + t) * vocab
                var z = 0.0
                for j in 0..<vocab { z += s(logits[row + j]) }
                sum += -log(s(logits[row + Int(labels[b * tokens + t])]) / z)
            }
            expected += sum / Double(counts[b])
        }
        XCTAssertEqual(value, expected, accuracy: 1e-12)
        finiteDifferenceCheck("stablemax_ce.dlogits", parameter: logits.pointer, count: logits.count, analytic: dlogits.array, loss: loss)
    }

    func testBinaryCrossEntropyGradientAndValue() {
        var g = SplitMix64(seed: 9)
        let count = 4
        let logits = randomTensor([count, 2], &g, scale: 6)
        let targets: [Double] = [1, 0, 0.3, 1]
        let dlogits = Tensor<Double>(shape: [count, 2])
        func loss() -> Double {
            targets.withUnsafeBufferPointer { binaryCrossEntropyWithLogits(nil, logits.pointer, stride: 2, $0.baseAddress!, count: count) }
        }
        let value = targets.withUnsafeBufferPointer {
            binaryCrossEntropyWithLogits(dlogits.pointer, logits.pointer, stride: 2, $0.baseAddress!, count: count)
        }
        var expected = 0.0
        for i in 0..<count {
            let p = 1 / (1 + exp(-logits[2 * i]))
            expected += -(targets[i] * log(p) + (1 - targets[i]) * log(1 - p))
        }
        XCTAssertEqual(value, expected, accuracy: 1e-10)
        finiteDifferenceCheck("bce.dlogits", parameter: logits.pointer, count: logits.count, analytic: dlogits.array, loss: loss)
    }

    func testFloatFastExponentialAccuracy() {
        var worst: Float = 0
        var values = [Float](repeating: 0, count: 1000)
        for i in 0..<1000 { values[i] = -80 + Float(i) * 0.08 }
        let original = values
        let sum = values.withUnsafeMutableBufferPointer { Float.exponentialShiftedInPlace($0.baseAddress!, count: 1000, shift: 0) }
        var expectedSum = 0.0
        for i in 0..<1000 {
            let e = exp(Double(original[i]))
            expectedSum += e
            worst = max(worst, Float(abs(Double(values[i]) - e) / e))
        }
        print("fast exp: largest relative error \(worst)")
        XCTAssertLessThan(worst, 3e-7)
        XCTAssertEqual(Double(sum), expectedSum, accuracy: expectedSum * 1e-5)
    }

    /// The flash attention's 2^x (degree-5 polynomial, exponent added as an integer) in both widths
    /// (8 lanes: KernelsAVX2; 16 lanes: the AVX-512 source built for AVX2, KernelsLanes16): relative
    /// error against Double over its whole range [-125, 0] (plus the rounding slack above 0 that a score
    /// minus its row maximum can have), 2^0 exactly 1, the clamp below -125, NaN kept, the tail lanes.
    func testAttentionExponential2Accuracy() {
        guard KernelsCPU.hasAVX2FMA else {
            // Without AVX2 + FMA this code never runs: the attention must not choose it.
            XCTAssertEqual(AttentionScratch<Float>(seq: 145, headDim: 32).kernels(path: .automatic), .portable)
            return
        }
        var builds: [(String, (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void)] = [
            ("8 lanes", KernelsAVX2.flashExponential2), ("16 lanes", KernelsLanes16.flashExponential2),
        ]
        if KernelsCPU.hasAVX512 { builds.append(("AVX-512", KernelsAVX512.flashExponential2)) }
        for (name, exponential2) in builds {
            var x: [Float] = (0..<200_001).map { -125 + Float($0) * 125 / 200_000 }
            x += [1e-6, 0.25, 0.5, 0.75, 1, -0.5, -1.5, -124.5, -0x1p-20, 0x1p-24]
            var out = [Float](repeating: .nan, count: x.count)
            exponential2(&out, x, x.count)
            var worst = 0.0, at: Float = 0
            for (value, result) in zip(x, out) {
                let expected = exp2(Double(value))
                let error = abs(Double(result) - expected) / expected
                if !(error <= worst) { worst = error; at = value }
            }
            print("attention exp2, \(name): largest relative error \(worst) at \(at)")
            XCTAssertLessThan(worst, 2.5e-7, name)
            var special: [Float] = [0, -126, -200, -.infinity, .nan, -125, 0, 0, 0, 0, 0]  // 11: the tail path too
            var results = [Float](repeating: 1, count: special.count)
            exponential2(&results, &special, special.count)
            XCTAssertEqual(results[0], 1, "\(name): 2^0 must be exactly 1 (the row maximum's probability)")
            for i in 1...3 { XCTAssertEqual(Double(results[i]), 0x1p-125, accuracy: 1e-45, "\(name): clamped below at -125: \(special[i])") }
            XCTAssertTrue(results[4].isNaN, "\(name): NaN must stay NaN")
            XCTAssertEqual(results[10], 1, "\(name): tail lane")
        }
    }

    /// The Float inner-loop builds (portable SIMD8; AVX2 and the 16-lane code built for AVX2 when this
    /// CPU has AVX2 + FMA; AVX-512 when it has that) against Double.
    func testFloatInnerLoopsBothBuilds() {
        var g = SplitMix64(seed: 12)
        let n = 901
        let x = (0..<n).map { _ in Float(g.nextUnit() * 40 - 30) }
        let y = (0..<n).map { _ in Float(g.nextUnit() * 2 - 1) }
        let shift = x.max()!
        var expectedSum = 0.0
        // expected from the Float difference (the kernels subtract in Float too)
        let expected = x.map { v -> Double in let e = exp(Double(v - shift)); expectedSum += e; return e }
        var builds: [(String, (UnsafeMutablePointer<Float>, Int, Float) -> Float, (UnsafePointer<Float>, Int) -> Float,
                      (UnsafePointer<Float>, UnsafePointer<Float>, Int) -> Float, (UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, Int) -> Void)] = [
            ("portable SIMD8", { simdExponentialShiftedInPlace($0, count: $1, shift: $2) }, { simdMaximum($0, count: $1) },
             { simdDot($0, $1, count: $2) }, { simdSiluProduct($0, $1, $2, count: $3) }),
        ]
        if KernelsCPU.hasAVX2FMA {
            builds.append(("AVX2", { KernelsAVX2.lanesExponentialShiftedInPlace($0, $1, $2) }, { KernelsAVX2.lanesMaximum($0, $1) },
                           { KernelsAVX2.lanesDot($0, $1, $2) }, { KernelsAVX2.lanesSiluProduct($0, $1, $2, $3) }))
            // the AVX-512 build's 16-lane code, compiled for AVX2 (KernelsLanes16)
            builds.append(("16 lanes", { KernelsLanes16.lanesExponentialShiftedInPlace($0, $1, $2) }, { KernelsLanes16.lanesMaximum($0, $1) },
                           { KernelsLanes16.lanesDot($0, $1, $2) }, { KernelsLanes16.lanesSiluProduct($0, $1, $2, $3) }))
        }
        if KernelsCPU.hasAVX512 {
            builds.append(("AVX-512", { KernelsAVX512.lanesExponentialShiftedInPlace($0, $1, $2) }, { KernelsAVX512.lanesMaximum($0, $1) },
                           { KernelsAVX512.lanesDot($0, $1, $2) }, { KernelsAVX512.lanesSiluProduct($0, $1, $2, $3) }))
        }
        print("inner-loop builds tested: \(builds.map(\.0)) (AVX2+FMA available: \(KernelsCPU.hasAVX2FMA))")
        for (name, expShift, maximum, dot, silu) in builds {
            var values = x
            let sum = values.withUnsafeMutableBufferPointer { expShift($0.baseAddress!, n, shift) }
            var worst = 0.0
            for i in 0..<n where expected[i] > 1e-30 { worst = max(worst, abs(Double(values[i]) - expected[i]) / expected[i]) }
            print("\(name) exp: largest relative error \(worst)")
            XCTAssertLessThan(worst, 3e-7, name)
            XCTAssertEqual(Double(sum), expectedSum, accuracy: expectedSum * 1e-5, name)
            XCTAssertEqual(x.withUnsafeBufferPointer { maximum($0.baseAddress!, n) }, shift, name)
            var expectedDot = 0.0
            for i in 0..<n { expectedDot += Double(x[i]) * Double(y[i]) }
            let d = x.withUnsafeBufferPointer { a in y.withUnsafeBufferPointer { b in dot(a.baseAddress!, b.baseAddress!, n) } }
            XCTAssertEqual(Double(d), expectedDot, accuracy: 1e-3, name)
            var out = [Float](repeating: 0, count: n)
            out.withUnsafeMutableBufferPointer { o in x.withUnsafeBufferPointer { a in y.withUnsafeBufferPointer { b in silu(o.baseAddress!, a.baseAddress!, b.baseAddress!, n) } } }
            for i in 0..<n {
                let v = Double(x[i]) / (1 + exp(-Double(x[i]))) * Double(y[i])
                XCTAssertEqual(Double(out[i]), v, accuracy: 1e-6 + 1e-6 * abs(v), "\(name) silu[\(i)]")
            }
            // past the exponent's clamps (e^-x over- or underflows in Float), in the vector lanes and the tail
            let extremes: [Float] = [-1000, -200, -100, -88, -87, 87, 88, 100, 200, 1000, -95, 95]
            let halves = [Float](repeating: 0.5, count: extremes.count)
            var outExtremes = [Float](repeating: .nan, count: extremes.count)
            outExtremes.withUnsafeMutableBufferPointer { o in extremes.withUnsafeBufferPointer { a in halves.withUnsafeBufferPointer { b in
                silu(o.baseAddress!, a.baseAddress!, b.baseAddress!, extremes.count) } } }
            for (i, value) in extremes.enumerated() {
                let v = Double(value) / (1 + exp(-Double(value))) * 0.5
                XCTAssertEqual(Double(outExtremes[i]), v, accuracy: 1e-6 + 1e-6 * abs(v), "\(name) silu(\(value))")
            }
        }
        // silu-product backward, both builds, against the Double kernel.
        let dy = (0..<n).map { _ in Float(g.nextUnit() * 2 - 1) }
        var backwardBuilds: [(String, (UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, UnsafePointer<Float>, Int) -> Void)] = [
            ("portable SIMD8", { simdSiluProductBackward($0, $1, $2, $3, $4, count: $5) })]
        if KernelsCPU.hasAVX2FMA {
            backwardBuilds.append(("AVX2", { KernelsAVX2.lanesSiluProductBackward($0, $1, $2, $3, $4, $5) }))
            backwardBuilds.append(("16 lanes", { KernelsLanes16.lanesSiluProductBackward($0, $1, $2, $3, $4, $5) }))
        }
        if KernelsCPU.hasAVX512 { backwardBuilds.append(("AVX-512", { KernelsAVX512.lanesSiluProductBackward($0, $1, $2, $3, $4, $5) })) }
        var dGateExpected = [Double](repeating: 0, count: n), dUpExpected = [Double](repeating: 0, count: n)
        let xd = x.map(Double.init), yd = y.map(Double.init), dyd = dy.map(Double.init)
        Double.siluProductBackward(&dGateExpected, &dUpExpected, dyd, xd, yd, count: n)
        for (name, backward) in backwardBuilds {
            var dGate = [Float](repeating: 0, count: n), dUp = [Float](repeating: 0, count: n)
            backward(&dGate, &dUp, dy, x, y, n)
            // past the exponent's clamps
            let extremes: [Float] = [-1000, -200, -100, -88, -87, 87, 88, 100, 200, 1000, -95, 95]
            let m = extremes.count, ones = [Float](repeating: 1, count: m), halves = [Float](repeating: 0.5, count: m)
            var dGateExtremes = [Float](repeating: .nan, count: m), dUpExtremes = [Float](repeating: .nan, count: m)
            backward(&dGateExtremes, &dUpExtremes, ones, extremes, halves, m)
            for (i, value) in extremes.enumerated() {
                let sigmoid = 1 / (1 + exp(-Double(value)))
                let expectedUp = Double(value) * sigmoid, expectedGate = 0.5 * sigmoid * (1 + Double(value) * (1 - sigmoid))
                XCTAssertEqual(Double(dUpExtremes[i]), expectedUp, accuracy: 1e-6 + 1e-5 * abs(expectedUp), "\(name) dup at \(value)")
                XCTAssertEqual(Double(dGateExtremes[i]), expectedGate, accuracy: 1e-6 + 1e-5 * abs(expectedGate), "\(name) dgate at \(value)")
            }
            for i in 0..<n {
                XCTAssertEqual(Double(dGate[i]), dGateExpected[i], accuracy: 1e-6 + 1e-5 * abs(dGateExpected[i]), "\(name) dgate[\(i)]")
                XCTAssertEqual(Double(dUp[i]), dUpExpected[i], accuracy: 1e-6 + 1e-5 * abs(dUpExpected[i]), "\(name) dup[\(i)]")
            }
        }
    }
}
