// Golden tests of the Float kernels against the PyTorch reference (Tests/Fixtures/kernels.safetensors,
// see Tests/Fixtures/README.md). Forward |a-b| <= 1e-5 + 1e-4|b|; gradients within 1e-4 of max |g|.
import Foundation
import HRM
import Kernels
import TestHelpers
import XCTest

final class KernelGoldenTests: XCTestCase {
    var fixture: SafeTensorsFile!
    override func setUpWithError() throws {
        KernelThreads.configure(threads: 2)
        fixture = try Fixtures.load("kernels.safetensors")
    }

    func tensor(_ name: String) throws -> Tensor<Float> {
        let values = try fixture.floats(name)
        return Tensor(shape: fixture.shape(name)!, values: values)
    }

    func testLinear() throws {
        let x = try tensor("linear.x"), w = try tensor("linear.w"), dy = try tensor("linear.dy")
        let rows = 6, inF = 5, outF = 4
        let y = Tensor<Float>(shape: [rows, outF])
        linearForward(y.pointer, x.pointer, w.pointer, nil, rows: rows, inFeatures: inF, outFeatures: outF)
        assertClose("linear.y", y.array, try fixture.floats("linear.y"))
        let dx = Tensor<Float>(shape: [rows, inF]), dw = Tensor<Float>(shape: [outF, inF])
        linearBackward(dx.pointer, dw.pointer, nil, dy.pointer, x.pointer, w.pointer, rows: rows, inFeatures: inF, outFeatures: outF)
        assertGradientClose("linear.dx", dx.array, try fixture.floats("linear.dx"))
        assertGradientClose("linear.dw", dw.array, try fixture.floats("linear.dw"))
    }

    func testRMSNorm() throws {
        let x = try tensor("rms_norm.x"), dy = try tensor("rms_norm.dy")
        let rows = 6, dim = 8
        let y = Tensor<Float>(shape: [rows, dim]), rstd = Tensor<Float>(shape: [rows])
        rmsNormForward(y.pointer, rstd.pointer, x.pointer, rows: rows, dim: dim)
        assertClose("rms_norm.y", y.array, try fixture.floats("rms_norm.y"))
        let dx = Tensor<Float>(shape: [rows, dim])
        rmsNormBackward(dx.pointer, dy.pointer, y.pointer, rstd.pointer, rows: rows, dim: dim)
        assertGradientClose("rms_norm.dx", dx.array, try fixture.floats("rms_norm.dx"))
    }

    /// Packs [B,S,H,hd] q (and k) into a qkv buffer [B*S, 3D].
    func pack(_ parts: [[Float]], batch: Int, seq: Int, dim: Int) -> Tensor<Float> {
        let qkv = Tensor<Float>(shape: [batch * seq, 3 * dim])
        for (p, part) in parts.enumerated() {
            for row in 0..<(batch * seq) { for j in 0..<dim { qkv[row * 3 * dim + p * dim + j] = part[row * dim + j] } }
        }
        return qkv
    }
    func unpack(_ qkv: Tensor<Float>, part: Int, batch: Int, seq: Int, dim: Int) -> [Float] {
        var out = [Float](repeating: 0, count: batch * seq * dim)
        for row in 0..<(batch * seq) { for j in 0..<dim { out[row * dim + j] = qkv[row * 3 * dim + part * dim + j] } }
        return out
    }

    func testRoPE() throws {
        let batch = 2, seq = 5, heads = 2, headDim = 8, dim = 16
        let table = RotaryTable<Float>(sequenceLength: seq, headDim: headDim)
        assertClose("rope.cos", table.cosine.array, try fixture.floats("rope.cos"))
        assertClose("rope.sin", table.sine.array, try fixture.floats("rope.sin"))
        let x = try fixture.floats("rope.x")
        let qkv = pack([x, x, x], batch: batch, seq: seq, dim: dim)
        ropeApply(qkv.pointer, table: table, inverse: false, batch: batch, seq: seq, heads: heads, headDim: headDim)
        assertClose("rope.y (q)", unpack(qkv, part: 0, batch: batch, seq: seq, dim: dim), try fixture.floats("rope.y"))
        assertClose("rope.y (k)", unpack(qkv, part: 1, batch: batch, seq: seq, dim: dim), try fixture.floats("rope.y"))
        assertClose("rope v untouched", unpack(qkv, part: 2, batch: batch, seq: seq, dim: dim), x, atol: 0, rtol: 0)
        let dy = try fixture.floats("rope.dy")
        let d = pack([dy, dy, dy], batch: batch, seq: seq, dim: dim)
        ropeApply(d.pointer, table: table, inverse: true, batch: batch, seq: seq, heads: heads, headDim: headDim)
        assertGradientClose("rope.dx", unpack(d, part: 0, batch: batch, seq: seq, dim: dim), try fixture.floats("rope.dx"))
    }

    func testAttention() throws {
        let batch = 2, seq = 5, heads = 2, headDim = 4, dim = 8
        let qkv = pack([try fixture.floats("attention.q"), try fixture.floats("attention.k"), try fixture.floats("attention.v")], batch: batch, seq: seq, dim: dim)
        let scratch = AttentionScratch<Float>(seq: seq, headDim: headDim)
        let y = Tensor<Float>(shape: [batch * seq, dim]), lse = Tensor<Float>(shape: [batch * heads * seq])
        attentionForward(y.pointer, logSumExp: lse.pointer, qkv.pointer, scratch: scratch, batch: batch, seq: seq, heads: heads, headDim: headDim)
        assertClose("attention.y", y.array, try fixture.floats("attention.y"))
        let dy = try tensor("attention.dy")
        let dqkv = Tensor<Float>(shape: [batch * seq, 3 * dim])
        attentionBackward(dqkv.pointer, dy.pointer, y.pointer, logSumExp: lse.pointer, qkv.pointer, scratch: scratch, batch: batch, seq: seq, heads: heads, headDim: headDim)
        assertGradientClose("attention.dq", unpack(dqkv, part: 0, batch: batch, seq: seq, dim: dim), try fixture.floats("attention.dq"))
        assertGradientClose("attention.dk", unpack(dqkv, part: 1, batch: batch, seq: seq, dim: dim), try fixture.floats("attention.dk"))
        assertGradientClose("attention.dv", unpack(dqkv, part: 2, batch: batch, seq: seq, dim: dim), try fixture.floats("attention.dv"))
        // Again with tiles of 2 queries x 2 keys: several tiles per (batch, head), the online softmax's rescaling.
        let tiled = AttentionScratch<Float>(seq: seq, headDim: headDim, queryTile: 2, keyTile: 2, forwardKeyTile: 2)
        attentionForward(y.pointer, logSumExp: lse.pointer, qkv.pointer, scratch: tiled, batch: batch, seq: seq, heads: heads, headDim: headDim)
        assertClose("attention.y (tiles 2 x 2)", y.array, try fixture.floats("attention.y"))
        attentionBackward(dqkv.pointer, dy.pointer, y.pointer, logSumExp: lse.pointer, qkv.pointer, scratch: tiled, batch: batch, seq: seq, heads: heads, headDim: headDim)
        assertGradientClose("attention.dq (tiles 2 x 2)", unpack(dqkv, part: 0, batch: batch, seq: seq, dim: dim), try fixture.floats("attention.dq"))
        assertGradientClose("attention.dk (tiles 2 x 2)", unpack(dqkv, part: 1, batch: batch, seq: seq, dim: dim), try fixture.floats("attention.dk"))
        assertGradientClose("attention.dv (tiles 2 x 2)", unpack(dqkv, part: 2, batch: batch, seq: seq, dim: dim), try fixture.floats("attention.dv"))
    }

    func testSwiGLUMLP() throws {
        let rows = 10, dim = 8, inter = 6
        let x = try tensor("swiglu.x"), wgu = try tensor("swiglu.w_gate_up"), wd = try tensor("swiglu.w_down"), dy = try tensor("swiglu.dy")
        let gu = Tensor<Float>(shape: [rows, 2 * inter]), act = Tensor<Float>(shape: [rows, inter]), y = Tensor<Float>(shape: [rows, dim])
        linearForward(gu.pointer, x.pointer, wgu.pointer, nil, rows: rows, inFeatures: dim, outFeatures: 2 * inter)
        swiGLUForward(act.pointer, gu.pointer, rows: rows, inter: inter)
        linearForward(y.pointer, act.pointer, wd.pointer, nil, rows: rows, inFeatures: inter, outFeatures: dim)
        assertClose("swiglu.y", y.array, try fixture.floats("swiglu.y"))
        let dact = Tensor<Float>(shape: [rows, inter]), dwd = Tensor<Float>(shape: [dim, inter])
        linearBackward(dact.pointer, dwd.pointer, nil, dy.pointer, act.pointer, wd.pointer, rows: rows, inFeatures: inter, outFeatures: dim)
        let dgu = Tensor<Float>(shape: [rows, 2 * inter])
        swiGLUBackward(dgu.pointer, dact.pointer, gu.pointer, rows: rows, inter: inter)
        let dx = Tensor<Float>(shape: [rows, dim]), dwgu = Tensor<Float>(shape: [2 * inter, dim])
        linearBackward(dx.pointer, dwgu.pointer, nil, dgu.pointer, x.pointer, wgu.pointer, rows: rows, inFeatures: dim, outFeatures: 2 * inter)
        assertGradientClose("swiglu.dx", dx.array, try fixture.floats("swiglu.dx"))
        assertGradientClose("swiglu.dw_down", dwd.array, try fixture.floats("swiglu.dw_down"))
        assertGradientClose("swiglu.dw_gate_up", dwgu.array, try fixture.floats("swiglu.dw_gate_up"))
    }

    func testEmbedding() throws {
        let tokens = try fixture.ints("embedding.tokens")
        let w = try tensor("embedding.w"), dy = try tensor("embedding.dy")
        let y = Tensor<Float>(shape: [2, 5, 8])
        tokens.withUnsafeBufferPointer { tp in
            inputEmbeddingForward(y.pointer, tp.baseAddress!, w.pointer, nil, batch: 2, tokens: 5, vocab: 12, puzzleTokens: 0, ndim: 0, dim: 8, scale: Float(8).squareRoot())
        }
        assertClose("embedding.y", y.array, try fixture.floats("embedding.y"))
        let dw = Tensor<Float>(shape: [12, 8])
        tokens.withUnsafeBufferPointer { tp in
            inputEmbeddingBackward(dw.pointer, nil, dy.pointer, tp.baseAddress!, batch: 2, tokens: 5, puzzleTokens: 0, ndim: 0, dim: 8, scale: Float(8).squareRoot())
        }
        assertGradientClose("embedding.dw", dw.array, try fixture.floats("embedding.dw"))
    }

    func testStablemaxCrossEntropy() throws {
        let logits = try tensor("stablemax_ce.logits")
        let labels = try fixture.ints("stablemax_ce.labels")
        let dlogits = Tensor<Float>(shape: [3 * 5, 12])
        let result = labels.withUnsafeBufferPointer {
            sequenceStablemaxLoss(dlogits.pointer, logits.pointer, $0.baseAddress!, batch: 3, tokens: 5, vocab: 12, ignoreLabel: 0)
        }
        assertClose("stablemax_ce.lm_loss", [result.loss], try fixture.floats("stablemax_ce.lm_loss"))
        let perToken = UnsafeMutablePointer<Double>.allocate(capacity: 15)
        defer { perToken.deallocate() }
        labels.withUnsafeBufferPointer { stablemaxCrossEntropyForward(perToken, logits.pointer, $0.baseAddress!, rows: 15, vocab: 12, ignoreLabel: 0) }
        assertClose("stablemax_ce.loss_per_token", Array(UnsafeBufferPointer(start: perToken, count: 15)), try fixture.floats("stablemax_ce.loss_per_token"))
        assertGradientClose("stablemax_ce.dlogits", dlogits.array, try fixture.floats("stablemax_ce.dlogits"))
    }

    func testBinaryCrossEntropy() throws {
        let logits = try tensor("bce.logits")
        let targets = try fixture.floats("bce.targets").map { Double($0) }
        let d = Tensor<Float>(shape: [6])
        let loss = targets.withUnsafeBufferPointer { binaryCrossEntropyWithLogits(d.pointer, logits.pointer, stride: 1, $0.baseAddress!, count: 6) }
        assertClose("bce.loss", [loss], try fixture.floats("bce.loss"))
        // One logit is exactly 0, where the derivative is sigmoid(0) - y = 0.5 - y (checked on its own too).
        let expected = try fixture.floats("bce.dlogits")
        assertGradientClose("bce.dlogits", d.array, expected)
        let x = logits.array
        XCTAssertEqual(x.filter { $0 == 0 }.count, 1, "the fixture keeps a logit at exactly 0")
        for i in 0..<6 where x[i] == 0 { XCTAssertEqual(Double(d[i]), 0.5 - targets[i], accuracy: 1e-7) }
    }

    /// The full post-norm block through the model's blockForward/blockBackward.
    func testBlockThroughModel() throws {
        // A model with D = 8, 2 heads, inter = 6 is not reachable by the config formula (inter >= 256),
        // so this test composes the kernels exactly as HRMModel.blockForward does.
        let batch = 2, seq = 5, dim = 8, heads = 2, headDim = 4, inter = 6, rows = 10
        let x = try tensor("block.x"), wqkv = try tensor("block.w_qkv"), wo = try tensor("block.w_o")
        let wgu = try tensor("block.w_gate_up"), wd = try tensor("block.w_down"), dy = try tensor("block.dy")
        let table = RotaryTable<Float>(sequenceLength: seq, headDim: headDim)
        let scratch = AttentionScratch<Float>(seq: seq, headDim: headDim), lse = Tensor<Float>(shape: [batch * heads * seq])
        let qkv = Tensor<Float>(shape: [rows, 3 * dim]), att = Tensor<Float>(shape: [rows, dim]), o = Tensor<Float>(shape: [rows, dim])
        let h1 = Tensor<Float>(shape: [rows, dim]), r1 = Tensor<Float>(shape: [rows]), gu = Tensor<Float>(shape: [rows, 2 * inter])
        let act = Tensor<Float>(shape: [rows, inter]), y = Tensor<Float>(shape: [rows, dim]), r2 = Tensor<Float>(shape: [rows])
        linearForward(qkv.pointer, x.pointer, wqkv.pointer, nil, rows: rows, inFeatures: dim, outFeatures: 3 * dim)
        ropeApply(qkv.pointer, table: table, inverse: false, batch: batch, seq: seq, heads: heads, headDim: headDim)
        attentionForward(att.pointer, logSumExp: lse.pointer, qkv.pointer, scratch: scratch, batch: batch, seq: seq, heads: heads, headDim: headDim)
        linearForward(o.pointer, att.pointer, wo.pointer, nil, rows: rows, inFeatures: dim, outFeatures: dim)
        addInPlace(o.pointer, x.pointer, count: rows * dim)
        rmsNormForward(h1.pointer, r1.pointer, o.pointer, rows: rows, dim: dim)
        linearForward(gu.pointer, h1.pointer, wgu.pointer, nil, rows: rows, inFeatures: dim, outFeatures: 2 * inter)
        swiGLUForward(act.pointer, gu.pointer, rows: rows, inter: inter)
        linearForward(o.pointer, act.pointer, wd.pointer, nil, rows: rows, inFeatures: inter, outFeatures: dim)
        addInPlace(o.pointer, h1.pointer, count: rows * dim)
        rmsNormForward(y.pointer, r2.pointer, o.pointer, rows: rows, dim: dim)
        assertClose("block.y", y.array, try fixture.floats("block.y"))
        // backward
        let dz = Tensor<Float>(shape: [rows, dim]); dz.copy(from: dy)
        let dact = Tensor<Float>(shape: [rows, inter]), dgu = Tensor<Float>(shape: [rows, 2 * inter]), datt = Tensor<Float>(shape: [rows, dim])
        let dqkv = Tensor<Float>(shape: [rows, 3 * dim])
        let dwqkv = Tensor<Float>(shape: [3 * dim, dim]), dwo = Tensor<Float>(shape: [dim, dim]), dwgu = Tensor<Float>(shape: [2 * inter, dim]), dwd = Tensor<Float>(shape: [dim, inter])
        rmsNormBackward(dz.pointer, dz.pointer, y.pointer, r2.pointer, rows: rows, dim: dim)
        linearBackward(dact.pointer, dwd.pointer, nil, dz.pointer, act.pointer, wd.pointer, rows: rows, inFeatures: inter, outFeatures: dim)
        swiGLUBackward(dgu.pointer, dact.pointer, gu.pointer, rows: rows, inter: inter)
        linearBackward(dz.pointer, dwgu.pointer, nil, dgu.pointer, h1.pointer, wgu.pointer, rows: rows, inFeatures: dim, outFeatures: 2 * inter, accumulateInput: true)
        rmsNormBackward(dz.pointer, dz.pointer, h1.pointer, r1.pointer, rows: rows, dim: dim)
        linearBackward(datt.pointer, dwo.pointer, nil, dz.pointer, att.pointer, wo.pointer, rows: rows, inFeatures: dim, outFeatures: dim)
        attentionBackward(dqkv.pointer, datt.pointer, att.pointer, logSumExp: lse.pointer, qkv.pointer, scratch: scratch, batch: batch, seq: seq, heads: heads, headDim: headDim)
        ropeApply(dqkv.pointer, table: table, inverse: true, batch: batch, seq: seq, heads: heads, headDim: headDim)
        linearBackward(dz.pointer, dwqkv.pointer, nil, dqkv.pointer, x.pointer, wqkv.pointer, rows: rows, inFeatures: dim, outFeatures: 3 * dim, accumulateInput: true)
        assertGradientClose("block.dx", dz.array, try fixture.floats("block.dx"))
        assertGradientClose("block.dw_qkv", dwqkv.array, try fixture.floats("block.dw_qkv"))
        assertGradientClose("block.dw_o", dwo.array, try fixture.floats("block.dw_o"))
        assertGradientClose("block.dw_gate_up", dwgu.array, try fixture.floats("block.dw_gate_up"))
        assertGradientClose("block.dw_down", dwd.array, try fixture.floats("block.dw_down"))
    }

    func testAdamATan2ThreeSteps() throws {
        let p = try tensor("adam_atan2.p0")
        let g = try fixture.floats("adam_atan2.g"), expected = try fixture.floats("adam_atan2.p")
        let m = Tensor<Float>(shape: [12]), v = Tensor<Float>(shape: [12])
        for step in 1...3 {
            let gradient = Array(g[((step - 1) * 12)..<(step * 12)])
            gradient.withUnsafeBufferPointer {
                adamATan2Step(p.pointer, m.pointer, v.pointer, $0.baseAddress!, count: 12, step: step,
                              learningRate: 1e-2, beta1: 0.9, beta2: 0.95, weightDecay: 0.1)
            }
            assertClose("adam_atan2.p[step \(step)]", p.array, Array(expected[((step - 1) * 12)..<(step * 12)]), atol: 1e-6, rtol: 1e-5)
        }
        assertClose("adam_atan2.m", m.array, try fixture.floats("adam_atan2.m"), atol: 1e-7, rtol: 1e-5)
        assertClose("adam_atan2.v", v.array, try fixture.floats("adam_atan2.v"), atol: 1e-9, rtol: 1e-5)
    }

    func testSparseSignSGD() throws {
        let table = try tensor("sparse_sign_sgd.table0")
        let ids = try fixture.ints("sparse_sign_sgd.ids")
        let grads = try tensor("sparse_sign_sgd.slot_grads")
        let before = table.array
        ids.withUnsafeBufferPointer {
            sparseSignSGDStep(table.pointer, tableRows: 6, ndim: 4, $0.baseAddress!, grads.pointer, slots: 5, learningRate: 5e-2, weightDecay: 0.1)
        }
        assertClose("sparse_sign_sgd.table1", table.array, try fixture.floats("sparse_sign_sgd.table1"), atol: 1e-7, rtol: 1e-6)
        for row in [0, 2, 5] { for j in 0..<4 { XCTAssertEqual(table[row * 4 + j], before[row * 4 + j], "row \(row) must not change") } }
    }
}
