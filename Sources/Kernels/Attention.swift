// Non-causal multi-head attention (HRM-SPEC §4): softmax(q k^T / sqrt(hd)) v per (batch, head) over a
// packed, already rotated qkv buffer [batch*seq, 3*D] (rows q|k|v, heads contiguous); output
// [batch*seq, D] with heads contiguous. Memory-conscious: each worker thread owns one S x S score
// matrix (and one for its gradient) in a reusable scratch buffer (3.2 MB each at S = 901 in fp32);
// the backward recomputes the probabilities per (batch, head) instead of keeping
// batch*heads*S*S of them for the whole step. (batch, head) pairs are spread over the workers.

/// Scratch for attention: per worker, probabilities and their gradient, S x S each.
public struct AttentionScratch<T: KernelScalar>: @unchecked Sendable {
    public let probabilities: Tensor<T>
    public let probabilityGradients: Tensor<T>
    public let seq: Int
    public let workers: Int
    public init(seq: Int, workers: Int = KernelThreads.count) {
        self.seq = seq
        self.workers = max(1, workers)
        probabilities = Tensor(shape: [self.workers, seq, seq])
        probabilityGradients = Tensor(shape: [self.workers, seq, seq])
    }
}

/// Row-wise softmax of a [rows, cols] matrix, in place, on the calling thread.
@inlinable
public func softmaxRowsInPlace<T: KernelScalar>(_ matrix: UnsafeMutablePointer<T>, rows: Int, cols: Int) {
    for row in 0..<rows {
        let line = matrix + row * cols
        var maximum = line[0]
        for j in 1..<cols where line[j] > maximum { maximum = line[j] }
        let sum = T.exponentialShiftedInPlace(line, count: cols, shift: maximum)
        let inverse = 1 / sum
        for j in 0..<cols { line[j] *= inverse }
    }
}

/// gradients <- probabilities * (gradients - rowsum(probabilities * gradients)), row-wise, on the calling thread.
@inlinable
public func softmaxBackwardRowsInPlace<T: KernelScalar>(
    _ gradients: UnsafeMutablePointer<T>, _ probabilities: UnsafePointer<T>, rows: Int, cols: Int
) {
    for row in 0..<rows {
        let gLine = gradients + row * cols
        let pLine = probabilities + row * cols
        var dot: T = 0
        for j in 0..<cols { dot += gLine[j] * pLine[j] }
        for j in 0..<cols { gLine[j] = pLine[j] * (gLine[j] - dot) }
    }
}

/// Runs body(worker, pair) for every (batch, head) pair, pairs spread over the scratch's workers.
@inlinable
func forEachHeadPair(pairs: Int, workers: Int, _ body: (Int, Int) -> Void) {
    parallelParts(pairs, parts: min(workers, KernelThreads.count)) { worker, range in
        for pair in range { body(worker, pair) }
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
    let o = SendablePointer(out), input = SendablePointer(UnsafeMutablePointer(mutating: qkv))
    let scores = SendablePointer(scratch.probabilities.pointer)
    forEachHeadPair(pairs: batch * heads, workers: scratch.workers) { worker, pair in
        let b = pair / heads, h = pair % heads
        let probabilities = scores.pointer + worker * seq * seq
        let q = input.pointer + b * seq * 3 * dim + h * headDim
        let k = q + dim
        let v = q + 2 * dim
        T.gemm(
            transposeA: false, transposeB: true, m: seq, n: seq, k: headDim,
            alpha: scale, a: q, lda: 3 * dim, b: k, ldb: 3 * dim, beta: 0, c: probabilities, ldc: seq)
        softmaxRowsInPlace(probabilities, rows: seq, cols: seq)
        T.gemm(
            transposeA: false, transposeB: false, m: seq, n: headDim, k: seq,
            alpha: 1, a: probabilities, lda: seq, b: v, ldb: 3 * dim, beta: 0,
            c: o.pointer + b * seq * dim + h * headDim, ldc: dim)
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
    let input = SendablePointer(UnsafeMutablePointer(mutating: qkv)), gradient = SendablePointer(dqkv)
    let upstream = SendablePointer(UnsafeMutablePointer(mutating: dout))
    let scores = SendablePointer(scratch.probabilities.pointer), scoreGradients = SendablePointer(scratch.probabilityGradients.pointer)
    forEachHeadPair(pairs: batch * heads, workers: scratch.workers) { worker, pair in
        let b = pair / heads, h = pair % heads
        let probabilities = scores.pointer + worker * seq * seq
        let gradients = scoreGradients.pointer + worker * seq * seq
        let offset = b * seq * 3 * dim + h * headDim
        let q = input.pointer + offset, k = q + dim, v = q + 2 * dim
        let dq = gradient.pointer + offset, dk = dq + dim, dv = dq + 2 * dim
        let dO = upstream.pointer + b * seq * dim + h * headDim
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
