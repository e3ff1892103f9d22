// The Float fast path of the fused ("flash") attention (docs/SPEC.md §4 attention; Kernels/FlashAttention.swift
// is the generic driver): one (batch, head) pair forward with online softmax, and its recomputing
// backward (FlashAttention-2), built on 6 x 16 / 6 x 8 register-tiled FMA micro-kernels over small
// query-tile x key-tile blocks in a per-worker workspace. Head dims must be multiples of 8, the query
// tile a multiple of 6 and the key tile a multiple of 24. Same conventions as VectorMath.swift: only
// pointers and scalars cross the module boundary, entry points are @inline(never).
#if canImport(Glibc)
import Glibc
#endif

/// Offsets (in floats) of the parts of one worker's workspace, and its size.
struct FlashWorkspaceLayout {
    let keysTransposed: Int, valuesTransposed: Int, queryTile: Int, outputGradientTile: Int
    let probabilities: Int, probabilityGradients: Int, accumulator: Int, rowMaximum: Int, rowSum: Int
    let delta: Int, keyGradients: Int, valueGradients: Int, count: Int

    init(paddedSeq: Int, headDim: Int, queryTile: Int, keyTile: Int) {
        var at = 0
        func take(_ n: Int) -> Int { defer { at += (n + 15) / 16 * 16 }; return at }
        keysTransposed = take(headDim * paddedSeq)
        valuesTransposed = take(headDim * paddedSeq)
        self.queryTile = take(queryTile * headDim)
        outputGradientTile = take(queryTile * headDim)
        probabilities = take(queryTile * keyTile)
        probabilityGradients = take(queryTile * keyTile)
        accumulator = take(queryTile * headDim)
        rowMaximum = take(queryTile)
        rowSum = take(queryTile)
        delta = take(paddedSeq)
        keyGradients = take(paddedSeq * headDim)
        valueGradients = take(paddedSeq * headDim)
        count = at
    }
}

/// Floats one worker's workspace needs for avx2FlashAttentionForwardPair / BackwardPair.
public func avx2FlashWorkspaceCount(paddedSeq: Int, headDim: Int, queryTile: Int, keyTile: Int) -> Int {
    FlashWorkspaceLayout(paddedSeq: paddedSeq, headDim: headDim, queryTile: queryTile, keyTile: keyTile).count
}

/// C[6, 16] (+)= A[6, depth] B[depth, 16]; A(r, d) = a[r * aRow + d * aDepth], B row d at b + d * ldb.
@inline(__always)
func microTile6x16(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ aRow: Int, _ aDepth: Int,
                   _ b: UnsafePointer<Float>, _ ldb: Int, _ depth: Int, _ accumulate: Bool) {
    let zero = SIMD8<Float>(repeating: 0)
    var c00 = zero, c01 = zero, c10 = zero, c11 = zero, c20 = zero, c21 = zero
    var c30 = zero, c31 = zero, c40 = zero, c41 = zero, c50 = zero, c51 = zero
    let a0 = a, a1 = a + aRow, a2 = a + 2 * aRow, a3 = a + 3 * aRow, a4 = a + 4 * aRow, a5 = a + 5 * aRow
    var rb = UnsafeRawPointer(b)
    let step = ldb * 4
    var index = 0
    for _ in 0..<depth {
        let b0 = rb.loadUnaligned(as: SIMD8<Float>.self)
        let b1 = rb.loadUnaligned(fromByteOffset: 32, as: SIMD8<Float>.self)
        var x = SIMD8<Float>(repeating: a0[index])
        c00 = c00.addingProduct(x, b0); c01 = c01.addingProduct(x, b1)
        x = SIMD8<Float>(repeating: a1[index])
        c10 = c10.addingProduct(x, b0); c11 = c11.addingProduct(x, b1)
        x = SIMD8<Float>(repeating: a2[index])
        c20 = c20.addingProduct(x, b0); c21 = c21.addingProduct(x, b1)
        x = SIMD8<Float>(repeating: a3[index])
        c30 = c30.addingProduct(x, b0); c31 = c31.addingProduct(x, b1)
        x = SIMD8<Float>(repeating: a4[index])
        c40 = c40.addingProduct(x, b0); c41 = c41.addingProduct(x, b1)
        x = SIMD8<Float>(repeating: a5[index])
        c50 = c50.addingProduct(x, b0); c51 = c51.addingProduct(x, b1)
        rb += step
        index += aDepth
    }
    let rc = UnsafeMutableRawPointer(c), row = ldc * 4
    @inline(__always) func put(_ value: SIMD8<Float>, _ offset: Int) {
        let target = accumulate ? value + rc.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self) : value
        rc.storeBytes(of: target, toByteOffset: offset, as: SIMD8<Float>.self)
    }
    put(c00, 0); put(c01, 32)
    put(c10, row); put(c11, row + 32)
    put(c20, 2 * row); put(c21, 2 * row + 32)
    put(c30, 3 * row); put(c31, 3 * row + 32)
    put(c40, 4 * row); put(c41, 4 * row + 32)
    put(c50, 5 * row); put(c51, 5 * row + 32)
}

/// C[6, 8] (+)= A[6, depth] B[depth, 8] (the 8-column remainder of microTile6x16).
@inline(__always)
func microTile6x8(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ aRow: Int, _ aDepth: Int,
                  _ b: UnsafePointer<Float>, _ ldb: Int, _ depth: Int, _ accumulate: Bool) {
    let zero = SIMD8<Float>(repeating: 0)
    var c0 = zero, c1 = zero, c2 = zero, c3 = zero, c4 = zero, c5 = zero
    let a0 = a, a1 = a + aRow, a2 = a + 2 * aRow, a3 = a + 3 * aRow, a4 = a + 4 * aRow, a5 = a + 5 * aRow
    var rb = UnsafeRawPointer(b)
    let step = ldb * 4
    var index = 0
    for _ in 0..<depth {
        let b0 = rb.loadUnaligned(as: SIMD8<Float>.self)
        c0 = c0.addingProduct(SIMD8<Float>(repeating: a0[index]), b0)
        c1 = c1.addingProduct(SIMD8<Float>(repeating: a1[index]), b0)
        c2 = c2.addingProduct(SIMD8<Float>(repeating: a2[index]), b0)
        c3 = c3.addingProduct(SIMD8<Float>(repeating: a3[index]), b0)
        c4 = c4.addingProduct(SIMD8<Float>(repeating: a4[index]), b0)
        c5 = c5.addingProduct(SIMD8<Float>(repeating: a5[index]), b0)
        rb += step
        index += aDepth
    }
    let rc = UnsafeMutableRawPointer(c), row = ldc * 4
    @inline(__always) func put(_ value: SIMD8<Float>, _ offset: Int) {
        let target = accumulate ? value + rc.loadUnaligned(fromByteOffset: offset, as: SIMD8<Float>.self) : value
        rc.storeBytes(of: target, toByteOffset: offset, as: SIMD8<Float>.self)
    }
    put(c0, 0); put(c1, row); put(c2, 2 * row); put(c3, 3 * row); put(c4, 4 * row); put(c5, 5 * row)
}

/// C[m, n] (+)= A[m, depth] B[depth, n] for m a multiple of 6 and n a multiple of 8 (strides as in
/// microTile6x16). Every row of A and column of B up to m and n must be readable.
@inline(never)
func tiledProduct(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ aRow: Int, _ aDepth: Int,
                  _ b: UnsafePointer<Float>, _ ldb: Int, m: Int, n: Int, depth: Int, accumulate: Bool) {
    var column = 0
    while column + 16 <= n {
        var row = 0
        while row < m {
            microTile6x16(c + row * ldc + column, ldc, a + row * aRow, aRow, aDepth, b + column, ldb, depth, accumulate)
            row += 6
        }
        column += 16
    }
    if column < n {
        var row = 0
        while row < m {
            microTile6x8(c + row * ldc + column, ldc, a + row * aRow, aRow, aDepth, b + column, ldb, depth, accumulate)
            row += 6
        }
    }
}

@inline(__always)
func roundUp(_ value: Int, _ multiple: Int) -> Int { (value + multiple - 1) / multiple * multiple }

/// Lanes j of the 8-wide chunk starting at `start` with start + j < valid.
@inline(__always)
func validLanes(_ start: Int, _ valid: Int) -> SIMDMask<SIMD8<Int32>> {
    SIMD8<Int32>(0, 1, 2, 3, 4, 5, 6, 7) .< SIMD8<Int32>(repeating: Int32(clamping: valid - start))
}

/// t[d * paddedSeq + j] = x[j * stride + d] for j < seq, 0 for seq <= j < paddedSeq.
@inline(__always)
func packTransposed(_ t: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, stride: Int, seq: Int, paddedSeq: Int, headDim: Int) {
    for d in 0..<headDim {
        let line = t + d * paddedSeq
        for j in 0..<seq { line[j] = x[j * stride + d] }
        for j in seq..<paddedSeq { line[j] = 0 }
    }
}

/// rows x headDim rows of x (row stride `stride`) times `factor` into t (row stride headDim), zero rows up to paddedRows.
@inline(__always)
func packRows(_ t: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, stride: Int, rows: Int, paddedRows: Int, headDim: Int, factor: Float) {
    for i in 0..<rows {
        for d in 0..<headDim { t[i * headDim + d] = x[i * stride + d] * factor }
    }
    (t + rows * headDim).initialize(repeating: 0, count: (paddedRows - rows) * headDim)
}

/// Forward of one (batch, head) pair: out rows (stride outStride) = softmax(scale q k^T) v and
/// logSumExp[i] = log sum_j exp(scale q_i k_j), q/k/v rows of headDim floats at stride qkvStride.
@inline(never)
public func avx2FlashAttentionForwardPair(
    _ out: UnsafeMutablePointer<Float>, outStride: Int, logSumExp: UnsafeMutablePointer<Float>,
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, qkvStride: Int,
    seq: Int, headDim: Int, scale: Float, queryTile: Int, keyTile: Int, paddedSeq: Int,
    workspace: UnsafeMutablePointer<Float>
) {
    let layout = FlashWorkspaceLayout(paddedSeq: paddedSeq, headDim: headDim, queryTile: queryTile, keyTile: keyTile)
    let kt = workspace + layout.keysTransposed, qTile = workspace + layout.queryTile
    let scores = workspace + layout.probabilities, accumulator = workspace + layout.accumulator
    let rowMaximum = workspace + layout.rowMaximum, rowSum = workspace + layout.rowSum
    packTransposed(kt, k, stride: qkvStride, seq: seq, paddedSeq: paddedSeq, headDim: headDim)
    var first = 0
    while first < seq {
        let rows = min(queryTile, seq - first), paddedRows = roundUp(rows, 6)
        packRows(qTile, q + first * qkvStride, stride: qkvStride, rows: rows, paddedRows: paddedRows, headDim: headDim, factor: scale)
        accumulator.initialize(repeating: 0, count: paddedRows * headDim)
        rowMaximum.initialize(repeating: -.infinity, count: rows)
        rowSum.initialize(repeating: 0, count: rows)
        var key = 0
        while key < seq {
            let keys = min(keyTile, seq - key), keyColumns = roundUp(keys, 8)
            // S = (scale Q) K^T on the tile
            tiledProduct(scores, keyTile, qTile, headDim, 1, kt + key, paddedSeq, m: paddedRows, n: keyColumns, depth: headDim, accumulate: false)
            // online softmax: new row max, P = exp(S - max), rescale the running sum and output
            for i in 0..<rows {
                let line = UnsafeMutableRawPointer(scores + i * keyTile)
                var best = SIMD8<Float>(repeating: -.infinity)
                var j = 0
                while j < keyColumns {
                    let s = line.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
                    best.replace(with: s, where: validLanes(j, keys) .& (s .> best))
                    j += 8
                }
                let newMaximum = max(rowMaximum[i], best.max())
                let shift = SIMD8<Float>(repeating: newMaximum)
                var sum = SIMD8<Float>(repeating: 0)
                j = 0
                while j < keyColumns {
                    var p = exp8(line.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) - shift)
                    if j + 8 > keys { p.replace(with: 0, where: .!validLanes(j, keys)) }
                    line.storeBytes(of: p, toByteOffset: j * 4, as: SIMD8<Float>.self)
                    sum += p
                    j += 8
                }
                let correction = expf(rowMaximum[i] - newMaximum)
                rowSum[i] = rowSum[i] * correction + sum.sum()
                rowMaximum[i] = newMaximum
                if correction != 1 {
                    let o = UnsafeMutableRawPointer(accumulator + i * headDim)
                    let factor = SIMD8<Float>(repeating: correction)
                    var d = 0
                    while d < headDim {
                        o.storeBytes(of: o.loadUnaligned(fromByteOffset: d * 4, as: SIMD8<Float>.self) * factor, toByteOffset: d * 4, as: SIMD8<Float>.self)
                        d += 8
                    }
                }
            }
            // O += P V on the tile (valid keys only)
            tiledProduct(accumulator, headDim, scores, keyTile, 1, v + key * qkvStride, qkvStride, m: paddedRows, n: headDim, depth: keys, accumulate: true)
            key += keys
        }
        for i in 0..<rows {
            let inverse = 1 / rowSum[i]
            let o = out + (first + i) * outStride, a = accumulator + i * headDim
            for d in 0..<headDim { o[d] = a[d] * inverse }
            logSumExp[first + i] = rowMaximum[i] + logf(rowSum[i])
        }
        first += rows
    }
}

/// Backward of one (batch, head) pair (FlashAttention-2): from dout, the forward's out and
/// logSumExp, writes dq, dk, dv rows (stride dqkvStride, overwritten).
@inline(never)
public func avx2FlashAttentionBackwardPair(
    dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>, dqkvStride: Int,
    dout: UnsafePointer<Float>, out: UnsafePointer<Float>, outStride: Int, logSumExp: UnsafePointer<Float>,
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, qkvStride: Int,
    seq: Int, headDim: Int, scale: Float, queryTile: Int, keyTile: Int, paddedSeq: Int,
    workspace: UnsafeMutablePointer<Float>
) {
    let layout = FlashWorkspaceLayout(paddedSeq: paddedSeq, headDim: headDim, queryTile: queryTile, keyTile: keyTile)
    let kt = workspace + layout.keysTransposed, vt = workspace + layout.valuesTransposed
    let qTile = workspace + layout.queryTile, dOTile = workspace + layout.outputGradientTile
    let p = workspace + layout.probabilities, dS = workspace + layout.probabilityGradients
    let dQTile = workspace + layout.accumulator, delta = workspace + layout.delta
    let dKAll = workspace + layout.keyGradients, dVAll = workspace + layout.valueGradients
    packTransposed(kt, k, stride: qkvStride, seq: seq, paddedSeq: paddedSeq, headDim: headDim)
    packTransposed(vt, v, stride: qkvStride, seq: seq, paddedSeq: paddedSeq, headDim: headDim)
    dKAll.initialize(repeating: 0, count: paddedSeq * headDim)
    dVAll.initialize(repeating: 0, count: paddedSeq * headDim)
    // D_i = rowsum(dO_i * O_i)
    for i in 0..<seq {
        let a = UnsafeRawPointer(dout + i * outStride), b = UnsafeRawPointer(out + i * outStride)
        var sum = SIMD8<Float>(repeating: 0)
        var d = 0
        while d < headDim {
            sum = sum.addingProduct(a.loadUnaligned(fromByteOffset: d * 4, as: SIMD8<Float>.self), b.loadUnaligned(fromByteOffset: d * 4, as: SIMD8<Float>.self))
            d += 8
        }
        delta[i] = sum.sum()
    }
    var first = 0
    while first < seq {
        let rows = min(queryTile, seq - first), paddedRows = roundUp(rows, 6)
        packRows(qTile, q + first * qkvStride, stride: qkvStride, rows: rows, paddedRows: paddedRows, headDim: headDim, factor: scale)
        packRows(dOTile, dout + first * outStride, stride: outStride, rows: rows, paddedRows: paddedRows, headDim: headDim, factor: 1)
        dQTile.initialize(repeating: 0, count: paddedRows * headDim)
        var key = 0
        while key < seq {
            let keys = min(keyTile, seq - key), keyColumns = roundUp(keys, 8), keyRows = roundUp(keys, 6)
            let width = max(keyColumns, keyRows)
            // S = (scale Q) K^T, P = exp(S - lse); dP = dO V^T
            tiledProduct(p, keyTile, qTile, headDim, 1, kt + key, paddedSeq, m: paddedRows, n: keyColumns, depth: headDim, accumulate: false)
            tiledProduct(dS, keyTile, dOTile, headDim, 1, vt + key, paddedSeq, m: paddedRows, n: keyColumns, depth: headDim, accumulate: false)
            // dS = P * (dP - D)
            for i in 0..<rows {
                let pLine = UnsafeMutableRawPointer(p + i * keyTile), gLine = UnsafeMutableRawPointer(dS + i * keyTile)
                let shift = SIMD8<Float>(repeating: logSumExp[first + i]), rowDelta = SIMD8<Float>(repeating: delta[first + i])
                var j = 0
                while j < keyColumns {
                    var probability = exp8(pLine.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) - shift)
                    if j + 8 > keys { probability.replace(with: 0, where: .!validLanes(j, keys)) }
                    pLine.storeBytes(of: probability, toByteOffset: j * 4, as: SIMD8<Float>.self)
                    let g = gLine.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
                    gLine.storeBytes(of: probability * (g - rowDelta), toByteOffset: j * 4, as: SIMD8<Float>.self)
                    j += 8
                }
                for j in keyColumns..<width {
                    p[i * keyTile + j] = 0
                    dS[i * keyTile + j] = 0
                }
            }
            // dV_j += P^T dO_i ; dK_j += dS^T (scale Q_i) ; dQ_i += dS K_j (scaled at the end)
            tiledProduct(dVAll + key * headDim, headDim, p, 1, keyTile, dOTile, headDim, m: keyRows, n: headDim, depth: rows, accumulate: true)
            tiledProduct(dKAll + key * headDim, headDim, dS, 1, keyTile, qTile, headDim, m: keyRows, n: headDim, depth: rows, accumulate: true)
            tiledProduct(dQTile, headDim, dS, keyTile, 1, k + key * qkvStride, qkvStride, m: paddedRows, n: headDim, depth: keys, accumulate: true)
            key += keys
        }
        for i in 0..<rows {
            let target = dq + (first + i) * dqkvStride, source = dQTile + i * headDim
            for d in 0..<headDim { target[d] = source[d] * scale }
        }
        first += rows
    }
    for j in 0..<seq {
        (dk + j * dqkvStride).update(from: dKAll + j * headDim, count: headDim)
        (dv + j * dqkvStride).update(from: dVAll + j * headDim, count: headDim)
    }
}
