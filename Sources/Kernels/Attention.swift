// The blocked attention kernel (docs/SPEC.md §4), kept as the test oracle of FlashAttention.swift (which the
// model uses) and for `arc-bench micro`. Non-causal multi-head attention: softmax(q k^T / sqrt(hd)) v per (batch, head) over a
// packed, already rotated qkv buffer [batch*seq, 3*D] (rows q|k|v, heads contiguous); output
// [batch*seq, D] with heads contiguous. Memory-conscious: the scores are computed for a block of
// query rows at a time (blockRows x S, about 0.5 MB at S = 901, so it stays in L2) in a reusable
// per-worker scratch; the full B x heads x S x S probabilities never exist, and the backward
// recomputes them block by block. (batch, head) pairs are spread over the worker threads.

/// Query rows per score block of the blocked kernel.
public let attentionBlockRows = 128

/// Scratch for the blocked attention: per worker (a piece of the (batch, head) pairs; KernelThreads.parts by
/// default), one block of probabilities and one of their gradients.
public struct BlockedAttentionScratch<T: KernelScalar>: @unchecked Sendable {
    public let probabilities: Tensor<T>
    public let probabilityGradients: Tensor<T>
    public let rowSums: Tensor<T>
    public let seq: Int
    public let workers: Int
    public let blockRows: Int
    public init(seq: Int, workers: Int = KernelThreads.parts, blockRows: Int = attentionBlockRows) {
        self.seq = seq
        self.workers = max(1, workers)
        self.blockRows = max(1, min(blockRows, seq))
        probabilities = Tensor(shape: [self.workers, self.blockRows, seq])
        probabilityGradients = Tensor(shape: [self.workers, self.blockRows, seq])
        rowSums = Tensor(shape: [self.workers, self.blockRows])
    }
}

/// Row-wise exp(x - rowmax) in place on the calling thread; sums[row] = the row's sum.
@inlinable
public func softmaxNumeratorsInPlace<T: KernelScalar>(_ matrix: UnsafeMutablePointer<T>, _ sums: UnsafeMutablePointer<T>, rows: Int, cols: Int) {
    for row in 0..<rows {
        let line = matrix + row * cols
        sums[row] = T.exponentialShiftedInPlace(line, count: cols, shift: T.maximum(line, count: cols))
    }
}

/// Row-wise softmax of a [rows, cols] matrix, in place, on the calling thread.
@inlinable
public func softmaxRowsInPlace<T: KernelScalar>(_ matrix: UnsafeMutablePointer<T>, rows: Int, cols: Int) {
    for row in 0..<rows {
        let line = matrix + row * cols
        let sum = T.exponentialShiftedInPlace(line, count: cols, shift: T.maximum(line, count: cols))
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
        let dot = T.dot(gLine, pLine, count: cols)
        for j in 0..<cols { gLine[j] = pLine[j] * (gLine[j] - dot) }
    }
}

/// Runs body(worker, pair) for every (batch, head) pair, pairs spread over the scratch's workers.
@inlinable
func forEachHeadPair(pairs: Int, workers: Int, _ body: (Int, Int) -> Void) {
    parallelParts(pairs, parts: KernelThreads.count <= 1 ? 1 : workers) { worker, range in
        for pair in range { body(worker, pair) }
    }
}

/// out[batch*seq, D] = attention(qkv[batch*seq, 3D]).
@inlinable
public func blockedAttentionForward<T: KernelScalar>(
    _ out: UnsafeMutablePointer<T>,
    _ qkv: UnsafePointer<T>, scratch: BlockedAttentionScratch<T>,
    batch: Int, seq: Int, heads: Int, headDim: Int
) {
    precondition(scratch.seq == seq, "blockedAttentionForward: scratch for seq \(scratch.seq), asked \(seq)")
    let dim = heads * headDim
    let scale = 1 / T(headDim).squareRoot()
    let blockRows = scratch.blockRows
    let o = SendablePointer(out), input = SendablePointer(UnsafeMutablePointer(mutating: qkv))
    let scores = SendablePointer(scratch.probabilities.pointer), sumsBase = SendablePointer(scratch.rowSums.pointer)
    forEachHeadPair(pairs: batch * heads, workers: scratch.workers) { worker, pair in
        let b = pair / heads, h = pair % heads
        let block = scores.pointer + worker * blockRows * seq
        let sums = sumsBase.pointer + worker * blockRows
        let q = input.pointer + b * seq * 3 * dim + h * headDim
        let k = q + dim
        let v = q + 2 * dim
        let output = o.pointer + b * seq * dim + h * headDim
        var first = 0
        while first < seq {
            let rows = min(blockRows, seq - first)
            T.gemm(
                transposeA: false, transposeB: true, m: rows, n: seq, k: headDim,
                alpha: scale, a: q + first * 3 * dim, lda: 3 * dim, b: k, ldb: 3 * dim, beta: 0, c: block, ldc: seq)
            softmaxNumeratorsInPlace(block, sums, rows: rows, cols: seq)
            let outputBlock = output + first * dim
            T.gemm(
                transposeA: false, transposeB: false, m: rows, n: headDim, k: seq,
                alpha: 1, a: block, lda: seq, b: v, ldb: 3 * dim, beta: 0, c: outputBlock, ldc: dim)
            for row in 0..<rows {
                let inverse = 1 / sums[row]
                let line = outputBlock + row * dim
                for j in 0..<headDim { line[j] *= inverse }
            }
            first += rows
        }
    }
}

/// dqkv[batch*seq, 3D] (overwritten) from dout[batch*seq, D], recomputing the probabilities block by block.
@inlinable
public func blockedAttentionBackward<T: KernelScalar>(
    _ dqkv: UnsafeMutablePointer<T>,
    _ dout: UnsafePointer<T>, _ qkv: UnsafePointer<T>, scratch: BlockedAttentionScratch<T>,
    batch: Int, seq: Int, heads: Int, headDim: Int
) {
    precondition(scratch.seq == seq, "blockedAttentionBackward: scratch for seq \(scratch.seq), asked \(seq)")
    let dim = heads * headDim
    let scale = 1 / T(headDim).squareRoot()
    let blockRows = scratch.blockRows
    let input = SendablePointer(UnsafeMutablePointer(mutating: qkv)), gradient = SendablePointer(dqkv)
    let upstream = SendablePointer(UnsafeMutablePointer(mutating: dout))
    let scores = SendablePointer(scratch.probabilities.pointer), scoreGradients = SendablePointer(scratch.probabilityGradients.pointer)
    forEachHeadPair(pairs: batch * heads, workers: scratch.workers) { worker, pair in
        let b = pair / heads, h = pair % heads
        let probabilities = scores.pointer + worker * blockRows * seq
        let gradients = scoreGradients.pointer + worker * blockRows * seq
        let offset = b * seq * 3 * dim + h * headDim
        let q = input.pointer + offset, k = q + dim, v = q + 2 * dim
        let dq = gradient.pointer + offset, dk = dq + dim, dv = dq + 2 * dim
        let dO = upstream.pointer + b * seq * dim + h * headDim
        var first = 0
        while first < seq {
            let rows = min(blockRows, seq - first)
            let accumulate: T = first == 0 ? 0 : 1
            T.gemm(
                transposeA: false, transposeB: true, m: rows, n: seq, k: headDim,
                alpha: scale, a: q + first * 3 * dim, lda: 3 * dim, b: k, ldb: 3 * dim, beta: 0, c: probabilities, ldc: seq)
            softmaxRowsInPlace(probabilities, rows: rows, cols: seq)
            // dV += P_block^T dO_block
            T.gemm(
                transposeA: true, transposeB: false, m: seq, n: headDim, k: rows,
                alpha: 1, a: probabilities, lda: seq, b: dO + first * dim, ldb: dim, beta: accumulate, c: dv, ldc: 3 * dim)
            // dP_block = dO_block V^T
            T.gemm(
                transposeA: false, transposeB: true, m: rows, n: seq, k: headDim,
                alpha: 1, a: dO + first * dim, lda: dim, b: v, ldb: 3 * dim, beta: 0, c: gradients, ldc: seq)
            // dS = P * (dP - rowsum(P * dP))
            softmaxBackwardRowsInPlace(gradients, probabilities, rows: rows, cols: seq)
            // dQ_block = scale dS K ; dK += scale dS^T Q_block
            T.gemm(
                transposeA: false, transposeB: false, m: rows, n: headDim, k: seq,
                alpha: scale, a: gradients, lda: seq, b: k, ldb: 3 * dim, beta: 0, c: dq + first * 3 * dim, ldc: 3 * dim)
            T.gemm(
                transposeA: true, transposeB: false, m: seq, n: headDim, k: rows,
                alpha: scale, a: gradients, lda: seq, b: q + first * 3 * dim, ldb: 3 * dim, beta: accumulate, c: dk, ldc: 3 * dim)
            first += rows
        }
    }
}
