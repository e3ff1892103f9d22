// Non-causal multi-head attention (HRM-SPEC §4): softmax(q k^T / sqrt(hd)) v per (batch, head) over a
// packed, already rotated qkv buffer [batch*seq, 3*D] (rows q|k|v, heads contiguous); output
// [batch*seq, D] with heads contiguous. Memory-conscious: one S x S score matrix lives in a reusable
// scratch buffer (3.2 MB at S = 901 in fp32); the backward recomputes the probabilities per
// (batch, head) instead of keeping batch*heads*S*S of them for the whole step.

/// Scratch for attention: probabilities and their gradient, S x S each.
public struct AttentionScratch<T: KernelScalar>: @unchecked Sendable {
    public let probabilities: Tensor<T>
    public let probabilityGradients: Tensor<T>
    public let seq: Int
    public init(seq: Int) {
        self.seq = seq
        probabilities = Tensor(shape: [seq, seq])
        probabilityGradients = Tensor(shape: [seq, seq])
    }
}

/// Row-wise softmax of a [rows, cols] matrix, in place.
@inlinable
public func softmaxRowsInPlace<T: KernelScalar>(_ matrix: UnsafeMutablePointer<T>, rows: Int, cols: Int) {
    let m = SendablePointer(matrix)
    parallelChunks(rows, costPerItem: cols * 8) { range in
        for row in range {
            let line = m.pointer + row * cols
            var maximum = line[0]
            for j in 1..<cols where line[j] > maximum { maximum = line[j] }
            let sum = T.exponentialShiftedInPlace(line, count: cols, shift: maximum)
            let inverse = 1 / sum
            for j in 0..<cols { line[j] *= inverse }
        }
    }
}

/// out[batch*seq, D] = attention(qkv[batch*seq, 3D]).
@inlinable
public func attentionForward<T: KernelScalar>(
    _ out: UnsafeMutablePointer<T>,
    _ qkv: UnsafePointer<T>, scratch: AttentionScratch<T>,
    batch: Int, seq: Int, heads: Int, headDim: Int
) {
    precondition(scratch.seq == seq, "attentionForward: scratch for seq \(scratch.seq), asked \(seq)")
    let dim = heads * headDim
    let scale = 1 / T(headDim).squareRoot()
    let probabilities = scratch.probabilities.pointer
    for b in 0..<batch {
        for h in 0..<heads {
            let q = qkv + b * seq * 3 * dim + h * headDim
            let k = q + dim
            let v = q + 2 * dim
            T.gemm(
                transposeA: false, transposeB: true, m: seq, n: seq, k: headDim,
                alpha: scale, a: q, lda: 3 * dim, b: k, ldb: 3 * dim, beta: 0, c: probabilities, ldc: seq)
            softmaxRowsInPlace(probabilities, rows: seq, cols: seq)
            T.gemm(
                transposeA: false, transposeB: false, m: seq, n: headDim, k: seq,
                alpha: 1, a: probabilities, lda: seq, b: v, ldb: 3 * dim, beta: 0,
                c: out + b * seq * dim + h * headDim, ldc: dim)
        }
    }
}

/// dqkv[batch*seq, 3D] (overwritten) from dout[batch*seq, D], recomputing the probabilities.
@inlinable
public func attentionBackward<T: KernelScalar>(
    _ dqkv: UnsafeMutablePointer<T>,
    _ dout: UnsafePointer<T>, _ qkv: UnsafePointer<T>, scratch: AttentionScratch<T>,
    batch: Int, seq: Int, heads: Int, headDim: Int
) {
    precondition(scratch.seq == seq, "attentionBackward: scratch for seq \(scratch.seq), asked \(seq)")
    let dim = heads * headDim
    let scale = 1 / T(headDim).squareRoot()
    let probabilities = scratch.probabilities.pointer
    let gradients = scratch.probabilityGradients.pointer
    for b in 0..<batch {
        for h in 0..<heads {
            let offset = b * seq * 3 * dim + h * headDim
            let q = qkv + offset, k = q + dim, v = q + 2 * dim
            let dq = dqkv + offset, dk = dq + dim, dv = dq + 2 * dim
            let dO = dout + b * seq * dim + h * headDim
            T.gemm(
                transposeA: false, transposeB: true, m: seq, n: seq, k: headDim,
                alpha: scale, a: q, lda: 3 * dim, b: k, ldb: 3 * dim, beta: 0, c: probabilities, ldc: seq)
            softmaxRowsInPlace(probabilities, rows: seq, cols: seq)
            // dV = P^T dO
            T.gemm(
                transposeA: true, transposeB: false, m: seq, n: headDim, k: seq,
                alpha: 1, a: probabilities, lda: seq, b: dO, ldb: dim, beta: 0, c: dv, ldc: 3 * dim)
            // dP = dO V^T
            T.gemm(
                transposeA: false, transposeB: true, m: seq, n: seq, k: headDim,
                alpha: 1, a: dO, lda: dim, b: v, ldb: 3 * dim, beta: 0, c: gradients, ldc: seq)
            // dS = P * (dP - rowsum(P * dP))
            softmaxBackwardRowsInPlace(gradients, probabilities, rows: seq, cols: seq)
            // dQ = scale dS K ; dK = scale dS^T Q
            T.gemm(
                transposeA: false, transposeB: false, m: seq, n: headDim, k: seq,
                alpha: scale, a: gradients, lda: seq, b: k, ldb: 3 * dim, beta: 0, c: dq, ldc: 3 * dim)
            T.gemm(
                transposeA: true, transposeB: false, m: seq, n: headDim, k: seq,
                alpha: scale, a: gradients, lda: seq, b: q, ldb: 3 * dim, beta: 0, c: dk, ldc: 3 * dim)
        }
    }
}

/// gradients <- probabilities * (gradients - rowsum(probabilities * gradients)), row-wise.
@inlinable
public func softmaxBackwardRowsInPlace<T: KernelScalar>(
    _ gradients: UnsafeMutablePointer<T>, _ probabilities: UnsafePointer<T>, rows: Int, cols: Int
) {
    let g = SendablePointer(gradients), p = SendablePointer(UnsafeMutablePointer(mutating: probabilities))
    parallelChunks(rows, costPerItem: cols * 2) { range in
        for row in range {
            let gLine = g.pointer + row * cols
            let pLine = p.pointer + row * cols
            var dot: T = 0
            for j in 0..<cols { dot += gLine[j] * pLine[j] }
            for j in 0..<cols { gLine[j] = pLine[j] * (gLine[j] - dot) }
        }
    }
}
