// The backward of the fused attention with bf16 products (docs/SPEC.md §4 attention; FlashAttention-2, as
// the reference runs it in bf16 on GPUs), the partner of FlashAttentionBF16.swift's forward: per query tile
// and key tile it recomputes S = Q K^T with the forward's own bf16 operands and kernel (so S, and with the
// forward's log-sum-exp P = 2^(S - lse), are the forward's bit for bit), dP = dO V^T, then in fp32
// dS = P * (dP - D) with D = rowsum(dO * O); the three gradient products dV += P^T dO, dK += dS^T Q and
// dQ += dS K take P and dS rounded to bf16. Every product runs on the pair dot product `dotPairs`
// (vdpbf16ps), each operand packed as bf16 pairs along that product's depth: the head dim for S and dP,
// the keys for dQ, the query rows for dV and dK (two rows of P or dS interleaved, which also makes their
// transposes free). Accumulators, D, the exps and the final scaling stay fp32.
//
// Built in KernelsAVX512BF16 (real instruction) and KernelsLanes16 (emulated, for emulated bf16 matmuls and
// the tests), both 16 lanes.
// Head dims must be multiples of 16, the query tile a multiple of 6, the key tiles multiples of 48.
#if canImport(Glibc)
import Glibc
#endif

/// Offsets (in 4-byte words) of one worker's workspace for the bf16 backward, and its size.
typealias BF16BackwardLayout = (keyWords: Int, valueWords: Int, keyRowPairs: Int, queryWords: Int, outputGradientWords: Int,
                                queryRowPairs: Int, outputGradientRowPairs: Int, probabilities: Int, probabilityGradients: Int,
                                probabilityRowPairs: Int, gradientRowPairs: Int, gradientWords: Int, accumulator: Int, delta: Int,
                                keyGradients: Int, valueGradients: Int, count: Int)

@inline(__always)
func bf16BackwardLayout(paddedSeq: Int, headDim: Int, queryTile: Int, keyTile: Int) -> BF16BackwardLayout {
    var at = 0
    func take(_ n: Int) -> Int { defer { at += (n + 15) / 16 * 16 }; return at }
    let rows = roundUp(queryTile, 6), pairs = headDim / 2
    let keyWords = take(pairs * paddedSeq)
    let valueWords = take(pairs * paddedSeq)
    let keyRowPairs = take(paddedSeq / 2 * headDim)
    let queryWords = take(rows * pairs)
    let outputGradientWords = take(rows * pairs)
    let queryRowPairs = take(rows / 2 * headDim)
    let outputGradientRowPairs = take(rows / 2 * headDim)
    let probabilities = take(rows * keyTile)
    let probabilityGradients = take(rows * keyTile)
    let probabilityRowPairs = take(rows / 2 * keyTile)
    let gradientRowPairs = take(rows / 2 * keyTile)
    let gradientWords = take(rows * keyTile / 2)
    let accumulator = take(rows * headDim)
    let delta = take(paddedSeq)
    let keyGradients = take(paddedSeq * headDim)
    let valueGradients = take(paddedSeq * headDim)
    return (keyWords, valueWords, keyRowPairs, queryWords, outputGradientWords, queryRowPairs, outputGradientRowPairs, probabilities,
            probabilityGradients, probabilityRowPairs, gradientRowPairs, gradientWords, accumulator, delta, keyGradients, valueGradients, at)
}

/// Words one worker's workspace needs for flashAttentionForwardPairBF16 and flashAttentionBackwardPairBF16.
public func bf16FlashTrainingWorkspaceCount(paddedSeq: Int, headDim: Int, queryTile: Int, keyTile: Int, forwardKeyTile: Int) -> Int {
    max(bf16FlashWorkspaceCount(paddedSeq: paddedSeq, headDim: headDim, queryTile: queryTile, keyTile: keyTile, forwardKeyTile: forwardKeyTile),
        bf16BackwardLayout(paddedSeq: paddedSeq, headDim: headDim, queryTile: queryTile, keyTile: keyTile).count)
}

/// Backward of one (batch, head) pair with bf16 products: from dout, the bf16 forward's out and
/// logSumExp, writes dq, dk, dv rows (stride dqkvStride, overwritten). Same arguments as the fp32
/// flashAttentionBackwardPair.
@inline(never)
public func flashAttentionBackwardPairBF16(
    dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>, dqkvStride: Int,
    dout: UnsafePointer<Float>, out: UnsafePointer<Float>, outStride: Int, logSumExp: UnsafePointer<Float>,
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, qkvStride: Int,
    seq: Int, headDim: Int, scale: Float, queryTile: Int, keyTile: Int, forwardKeyTile: Int, paddedSeq: Int,
    workspace: UnsafeMutablePointer<Float>
) {
    let layout = bf16BackwardLayout(paddedSeq: paddedSeq, headDim: headDim, queryTile: queryTile, keyTile: keyTile)
    let raw = UnsafeMutableRawPointer(workspace)
    func words(_ offset: Int) -> UnsafeMutablePointer<UInt32> { (raw + offset * 4).assumingMemoryBound(to: UInt32.self) }
    let keyWords = words(layout.keyWords), valueWords = words(layout.valueWords), keyRowPairs = words(layout.keyRowPairs)
    let queryWords = words(layout.queryWords), outputGradientWords = words(layout.outputGradientWords)
    let queryRowPairs = words(layout.queryRowPairs), outputGradientRowPairs = words(layout.outputGradientRowPairs)
    let p = workspace + layout.probabilities, dS = workspace + layout.probabilityGradients
    let probabilityRowPairs = words(layout.probabilityRowPairs), gradientRowPairs = words(layout.gradientRowPairs)
    let gradientWords = words(layout.gradientWords)
    let dQTile = workspace + layout.accumulator, delta = workspace + layout.delta
    let dKAll = workspace + layout.keyGradients, dVAll = workspace + layout.valueGradients
    let pairs = headDim / 2, gradientStride = keyTile / 2
    let factor = scale * log2e
    // K and V along the head dim, transposed (S's and dP's right operands; K's words are the forward's),
    // K along the keys (dQ's right operand)
    packPairsTransposed(keyWords, k, stride: qkvStride, seq: seq, paddedSeq: paddedSeq, headDim: headDim)
    packPairsTransposed(valueWords, v, stride: qkvStride, seq: seq, paddedSeq: paddedSeq, headDim: headDim)
    packRowPairs(keyRowPairs, k, stride: qkvStride, rows: seq, pairRows: paddedSeq / 2, headDim: headDim, factor: 1)
    dKAll.initialize(repeating: 0, count: paddedSeq * headDim)
    dVAll.initialize(repeating: 0, count: paddedSeq * headDim)
    // D_i = rowsum(bf16(dO_i) * O_i) in fp32: dO rounded as dP = dO V^T takes it, so that D = sum_j P_ij dP_ij
    // holds as closely as it does in fp32 (with one key, dS = 0 up to the sums' order)
    for i in 0..<seq {
        let a = UnsafeRawPointer(dout + i * outStride), b = UnsafeRawPointer(out + i * outStride)
        var sum = SIMD16<Float>(repeating: 0)
        var d = 0
        while d < headDim {
            let rounded = unsafeBitCast(bf16Lanes(a.loadUnaligned(fromByteOffset: d * 4, as: SIMD16<Float>.self)) &<< 16, to: SIMD16<Float>.self)
            sum = sum.addingProduct(rounded, b.loadUnaligned(fromByteOffset: d * 4, as: SIMD16<Float>.self))
            d += 16
        }
        delta[i] = horizontalSum(sum)
    }
    var first = 0
    while first < seq {
        let rows = min(queryTile, seq - first), paddedRows = roundUp(rows, 6), rowPairs = (rows + 1) / 2
        let qBlock = q + first * qkvStride, dOBlock = dout + first * outStride
        // Q (times scale log2(e), as the forward) and dO along the head dim; both along the rows
        for i in 0..<rows {
            packPairs(queryWords + i * pairs, qBlock + i * qkvStride, pairCount: pairs, factor: factor)
            packPairs(outputGradientWords + i * pairs, dOBlock + i * outStride, pairCount: pairs, factor: 1)
        }
        (queryWords + rows * pairs).initialize(repeating: 0, count: (paddedRows - rows) * pairs)
        (outputGradientWords + rows * pairs).initialize(repeating: 0, count: (paddedRows - rows) * pairs)
        packRowPairs(queryRowPairs, qBlock, stride: qkvStride, rows: rows, pairRows: rowPairs, headDim: headDim, factor: factor)
        packRowPairs(outputGradientRowPairs, dOBlock, stride: outStride, rows: rows, pairRows: rowPairs, headDim: headDim, factor: 1)
        dQTile.initialize(repeating: 0, count: paddedRows * headDim)
        var key = 0
        while key < seq {
            let keys = min(keyTile, seq - key), keyColumns = roundUp(keys, 16), keyRows = roundUp(keys, 6)
            let packed = roundUp(max(keyColumns, keyRows), 16)
            // S (base-2 units) and dP = dO V^T, bf16 products
            bf16TiledProduct(p, keyTile, queryWords, pairs, 1, keyWords + key, paddedSeq, m: paddedRows, n: keyColumns, pairs: pairs, accumulate: false)
            bf16TiledProduct(dS, keyTile, outputGradientWords, pairs, 1, valueWords + key, paddedSeq, m: paddedRows, n: keyColumns, pairs: pairs,
                             accumulate: false)
            // P = 2^(S - log2(e) lse), dS = P * (dP - D) in fp32 (zero past the valid keys, up to `packed`),
            // then dS along the keys (dQ's left operand)
            for i in 0..<rows {
                probabilityGradientRow(UnsafeMutableRawPointer(p + i * keyTile), UnsafeMutableRawPointer(dS + i * keyTile), keys,
                                       logSumExp[first + i] * log2e, delta[first + i])
                for j in keyColumns..<packed {
                    p[i * keyTile + j] = 0
                    dS[i * keyTile + j] = 0
                }
                packPairs(gradientWords + i * gradientStride, dS + i * keyTile, pairCount: keyColumns / 2, factor: 1)
            }
            (gradientWords + rows * gradientStride).initialize(repeating: 0, count: (paddedRows - rows) * gradientStride)
            // P and dS two query rows interleaved: row pair r holds (x[2r][j], x[2r+1][j]) at r * keyTile + j,
            // read as the transposes' left operands (key j's row, pair r)
            for r in 0..<rowPairs {
                let even = 2 * r, odd: Int? = 2 * r + 1 < rows ? 2 * r + 1 : nil
                interleaveRows(probabilityRowPairs + r * keyTile, p + even * keyTile, odd.map { p + $0 * keyTile }, count: packed, factor: 1)
                interleaveRows(gradientRowPairs + r * keyTile, dS + even * keyTile, odd.map { dS + $0 * keyTile }, count: packed, factor: 1)
            }
            // dV_j += P^T dO_i ; dK_j += dS^T (scale log2(e) Q_i) (times ln 2 at the end) ; dQ_i += dS K_j (scaled at the end)
            bf16TiledProduct(dVAll + key * headDim, headDim, probabilityRowPairs, 1, keyTile, outputGradientRowPairs, headDim,
                             m: keyRows, n: headDim, pairs: rowPairs, accumulate: true)
            bf16TiledProduct(dKAll + key * headDim, headDim, gradientRowPairs, 1, keyTile, queryRowPairs, headDim,
                             m: keyRows, n: headDim, pairs: rowPairs, accumulate: true)
            bf16TiledProduct(dQTile, headDim, gradientWords, gradientStride, 1, keyRowPairs + key / 2 * headDim, headDim,
                             m: paddedRows, n: headDim, pairs: (keys + 1) / 2, accumulate: true)
            key += keys
        }
        scaleRows(dq + first * dqkvStride, rowStride: dqkvStride, dQTile, stride: headDim, rows: rows, headDim: headDim, factor: scale)
        first += rows
    }
    scaleRows(dk, rowStride: dqkvStride, dKAll, stride: headDim, rows: seq, headDim: headDim, factor: ln2)
    scaleRows(dv, rowStride: dqkvStride, dVAll, stride: headDim, rows: seq, headDim: headDim, factor: 1)
}
