// The forward of the fused attention with bf16 products (docs/SPEC.md §4 attention, as the reference runs
// it in bf16 on GPUs): scores S = Q K^T and the output P V take bf16 operands (q scaled, k, v, and the
// probabilities P rounded to nearest even) with fp32 accumulation; the online softmax, its row maxima,
// sums and log-sum-exp stay fp32 (FlashAttentionLanes.swift's code). The products run on the pair dot
// product `dotPairs` (vdpbf16ps: 32 multiply-adds per instruction, twice the fp32 FMA's 16): bf16 values
// travel in pairs packed into 32-bit words, the even element in the low half, paired along each
// product's depth (head dim for S, keys for P V).
//
// Its backward, FlashAttentionBackwardBF16.swift, recomputes S with the same packed operands and kernel, so
// steps that keep activations can run it too (FlashAttentionBuild.avx512BF16); paired with the fp32
// backward (avx512BF16Forward) it runs only where no gradient is taken. The operand packings here serve
// both. Built in KernelsAVX512BF16 (real instruction) and KernelsLanes16 (emulated, for emulated bf16
// matmuls and the tests), both 16 lanes, with FlashAttentionLanes.swift's softmax pieces. Head dims must be multiples of 16, the
// query tile a multiple of 6, the key tiles multiples of 48 (FlashAttentionBuild's 16-lane rule).
#if canImport(Glibc)
import Glibc
#endif

/// Offsets (in 4-byte words) of one worker's workspace for the bf16 forward, and its size (a tuple, as
/// FlashWorkspaceLayout, for the same reason).
typealias BF16ForwardLayout = (keyWords: Int, valueWords: Int, queryWords: Int, scores: Int, probabilityWords: Int, accumulator: Int,
                               rowMaximum: Int, rowSum: Int, corrections: Int, count: Int)

@inline(__always)
func bf16ForwardLayout(paddedSeq: Int, headDim: Int, queryTile: Int, forwardKeyTile: Int) -> BF16ForwardLayout {
    var at = 0
    func take(_ n: Int) -> Int { defer { at += (n + 15) / 16 * 16 }; return at }
    let keyWords = take(headDim / 2 * paddedSeq)
    let valueWords = take(paddedSeq / 2 * headDim)
    let queryWords = take(roundUp(queryTile, 6) * headDim / 2)
    let scores = take(roundUp(queryTile, 6) * forwardKeyTile)
    let probabilityWords = take(roundUp(queryTile, 6) * forwardKeyTile / 2)
    let accumulator = take(roundUp(queryTile, 6) * headDim)
    let rowMaximum = take(queryTile)
    let rowSum = take(queryTile)
    let corrections = take(roundUp(queryTile, 16))
    return (keyWords, valueWords, queryWords, scores, probabilityWords, accumulator, rowMaximum, rowSum, corrections, at)
}

/// Words one worker's workspace needs for flashAttentionForwardPairBF16.
public func bf16FlashWorkspaceCount(paddedSeq: Int, headDim: Int, queryTile: Int, keyTile: Int, forwardKeyTile: Int) -> Int {
    bf16ForwardLayout(paddedSeq: paddedSeq, headDim: headDim, queryTile: queryTile, forwardKeyTile: forwardKeyTile).count
}

/// One word holding the pair (even, odd), each rounded to bf16.
@inline(__always)
func bf16Word(_ even: Float, _ odd: Float) -> UInt32 { bf16Bits(even) | (bf16Bits(odd) << 16) }

/// Each lane rounded to bf16 (bf16Bits' bits: nearest even, NaN kept a quiet NaN) in the low half of its word.
@inline(__always)
func bf16Lanes(_ x: SIMD16<Float>) -> SIMD16<UInt32> {
    let bits = unsafeBitCast(x, to: SIMD16<UInt32>.self)
    var rounded = (bits &+ SIMD16(repeating: 0x7FFF) &+ ((bits &>> 16) & SIMD16(repeating: 1))) &>> 16
    rounded.replace(with: (bits &>> 16) | SIMD16(repeating: 0x0040), where: x .!= x)
    return rounded
}

/// The 8 words of the bf16 pairs (x[2j], x[2j+1]).
@inline(__always)
func pairWords(_ x: SIMD16<Float>) -> SIMD8<UInt32> {
    let wide = unsafeBitCast(bf16Lanes(x), to: SIMD8<UInt64>.self)  // word 2j in the low half of lane j, 2j + 1 in the high
    let w = wide | (wide &>> 16)
    // lane by lane, not SIMD8(truncatingIfNeeded:): that generic initializer is emitted as a specialization
    // shared by every module that uses it, and the copy the linker keeps may be another module's (wider) one
    return SIMD8<UInt32>(UInt32(truncatingIfNeeded: w[0]), UInt32(truncatingIfNeeded: w[1]), UInt32(truncatingIfNeeded: w[2]),
                         UInt32(truncatingIfNeeded: w[3]), UInt32(truncatingIfNeeded: w[4]), UInt32(truncatingIfNeeded: w[5]),
                         UInt32(truncatingIfNeeded: w[6]), UInt32(truncatingIfNeeded: w[7]))
}

/// words[j] = the bf16 pair (x[2j] factor, x[2j+1] factor) for j < pairCount.
@inline(__always)
func packPairs(_ words: UnsafeMutablePointer<UInt32>, _ x: UnsafePointer<Float>, pairCount: Int, factor: Float) {
    let source = UnsafeRawPointer(x), target = UnsafeMutableRawPointer(words), f = SIMD16<Float>(repeating: factor)
    var j = 0
    while j + 8 <= pairCount {
        target.storeBytes(of: pairWords(source.loadUnaligned(fromByteOffset: j &* 8, as: SIMD16<Float>.self) * f), toByteOffset: j &* 4,
                          as: SIMD8<UInt32>.self)
        j &+= 8
    }
    while j < pairCount {
        words[j] = bf16Word(x[2 * j] * factor, x[2 * j + 1] * factor)
        j &+= 1
    }
}

/// words[c] = the bf16 pair (even[c] factor, odd[c] factor) for c < count (a multiple of 16); odd nil: zeros.
@inline(__always)
func interleaveRows(_ words: UnsafeMutablePointer<UInt32>, _ even: UnsafePointer<Float>, _ odd: UnsafePointer<Float>?, count: Int, factor: Float) {
    let target = UnsafeMutableRawPointer(words), f = SIMD16<Float>(repeating: factor)
    let first = UnsafeRawPointer(even), second = odd.map(UnsafeRawPointer.init)
    var c = 0
    while c < count {
        var word = bf16Lanes(first.loadUnaligned(fromByteOffset: c &* 4, as: SIMD16<Float>.self) * f)
        if let second { word |= bf16Lanes(second.loadUnaligned(fromByteOffset: c &* 4, as: SIMD16<Float>.self) * f) &<< 16 }
        target.storeBytes(of: word, toByteOffset: c &* 4, as: SIMD16<UInt32>.self)
        c &+= 16
    }
}

/// Rows of x as bf16 pairs along the head dim, transposed: words[p * paddedSeq + j] = (x[j][2p], x[j][2p+1])
/// for j < seq, zero for seq <= j < paddedSeq (headDim a multiple of 16).
@inline(__always)
func packPairsTransposed(_ words: UnsafeMutablePointer<UInt32>, _ x: UnsafePointer<Float>, stride: Int, seq: Int, paddedSeq: Int, headDim: Int) {
    let pairs = headDim / 2
    for j in 0..<seq {
        let line = UnsafeRawPointer(x + j &* stride)
        var p = 0
        while p < pairs {
            let eight = pairWords(line.loadUnaligned(fromByteOffset: p &* 8, as: SIMD16<Float>.self))
            let column = words + (p &* paddedSeq &+ j)
            for lane in 0..<8 { column[lane &* paddedSeq] = eight[lane] }
            p &+= 8
        }
    }
    for p in 0..<pairs { (words + p * paddedSeq + seq).initialize(repeating: 0, count: paddedSeq - seq) }
}

/// Rows of x as bf16 pairs along the rows (x[2r][d], x[2r+1][d]): words[r * headDim + d] for r < pairRows,
/// rows at or past `rows` zero (headDim a multiple of 16).
@inline(__always)
func packRowPairs(_ words: UnsafeMutablePointer<UInt32>, _ x: UnsafePointer<Float>, stride: Int, rows: Int, pairRows: Int, headDim: Int, factor: Float) {
    for r in 0..<pairRows {
        let even = 2 * r, odd = 2 * r + 1, line = words + r * headDim
        if even >= rows {
            line.initialize(repeating: 0, count: headDim)
        } else {
            interleaveRows(line, x + even * stride, odd < rows ? x + odd * stride : nil, count: headDim, factor: factor)
        }
    }
}

/// C[6, 32] (+)= A[6, pairs] B[pairs, 32] in bf16 pairs: A(r, p) = a[r * aRow + p * aPair] (one word,
/// broadcast), B row p = 32 words at b + p * ldb (two vectors).
@inline(never)
func bf16Tile6x2v(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<UInt32>, _ aRow: Int, _ aPair: Int,
                  _ b: UnsafePointer<UInt32>, _ ldb: Int, _ pairs: Int, _ accumulate: Bool) {
    let zero = SIMD16<Float>(repeating: 0)
    var c00 = zero, c01 = zero, c10 = zero, c11 = zero, c20 = zero, c21 = zero
    var c30 = zero, c31 = zero, c40 = zero, c41 = zero, c50 = zero, c51 = zero
    let a0 = a, a1 = a + aRow, a2 = a + 2 * aRow, a3 = a + 3 * aRow, a4 = a + 4 * aRow, a5 = a + 5 * aRow
    var rb = UnsafeRawPointer(b)
    let step = ldb &* 4
    var index = 0, remaining = pairs
    while remaining > 0 {
        let b0 = rb.loadUnaligned(as: SIMD16<UInt32>.self)
        let b1 = rb.loadUnaligned(fromByteOffset: 64, as: SIMD16<UInt32>.self)
        var x = SIMD16<UInt32>(repeating: a0[index])
        c00 = dotPairs(c00, x, b0); c01 = dotPairs(c01, x, b1)
        x = SIMD16<UInt32>(repeating: a1[index])
        c10 = dotPairs(c10, x, b0); c11 = dotPairs(c11, x, b1)
        x = SIMD16<UInt32>(repeating: a2[index])
        c20 = dotPairs(c20, x, b0); c21 = dotPairs(c21, x, b1)
        x = SIMD16<UInt32>(repeating: a3[index])
        c30 = dotPairs(c30, x, b0); c31 = dotPairs(c31, x, b1)
        x = SIMD16<UInt32>(repeating: a4[index])
        c40 = dotPairs(c40, x, b0); c41 = dotPairs(c41, x, b1)
        x = SIMD16<UInt32>(repeating: a5[index])
        c50 = dotPairs(c50, x, b0); c51 = dotPairs(c51, x, b1)
        rb = rb.advanced(by: step)
        index = index &+ aPair
        remaining = remaining &- 1
    }
    let rc = UnsafeMutableRawPointer(c), row = ldc * 4
    @inline(__always) func put(_ value: SIMD16<Float>, _ offset: Int) {
        let target = accumulate ? value + rc.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self) : value
        rc.storeBytes(of: target, toByteOffset: offset, as: SIMD16<Float>.self)
    }
    put(c00, 0); put(c01, 64)
    put(c10, row); put(c11, row + 64)
    put(c20, 2 * row); put(c21, 2 * row + 64)
    put(c30, 3 * row); put(c31, 3 * row + 64)
    put(c40, 4 * row); put(c41, 4 * row + 64)
    put(c50, 5 * row); put(c51, 5 * row + 64)
}

/// C[6, 16] (+)= A[6, pairs] B[pairs, 16] (the one-vector remainder of bf16Tile6x2v).
@inline(never)
func bf16Tile6x1v(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<UInt32>, _ aRow: Int, _ aPair: Int,
                  _ b: UnsafePointer<UInt32>, _ ldb: Int, _ pairs: Int, _ accumulate: Bool) {
    let zero = SIMD16<Float>(repeating: 0)
    var c0 = zero, c1 = zero, c2 = zero, c3 = zero, c4 = zero, c5 = zero
    let a0 = a, a1 = a + aRow, a2 = a + 2 * aRow, a3 = a + 3 * aRow, a4 = a + 4 * aRow, a5 = a + 5 * aRow
    var rb = UnsafeRawPointer(b)
    let step = ldb &* 4
    var index = 0, remaining = pairs
    while remaining > 0 {
        let b0 = rb.loadUnaligned(as: SIMD16<UInt32>.self)
        c0 = dotPairs(c0, SIMD16<UInt32>(repeating: a0[index]), b0)
        c1 = dotPairs(c1, SIMD16<UInt32>(repeating: a1[index]), b0)
        c2 = dotPairs(c2, SIMD16<UInt32>(repeating: a2[index]), b0)
        c3 = dotPairs(c3, SIMD16<UInt32>(repeating: a3[index]), b0)
        c4 = dotPairs(c4, SIMD16<UInt32>(repeating: a4[index]), b0)
        c5 = dotPairs(c5, SIMD16<UInt32>(repeating: a5[index]), b0)
        rb = rb.advanced(by: step)
        index = index &+ aPair
        remaining = remaining &- 1
    }
    let rc = UnsafeMutableRawPointer(c), row = ldc * 4
    @inline(__always) func put(_ value: SIMD16<Float>, _ offset: Int) {
        let target = accumulate ? value + rc.loadUnaligned(fromByteOffset: offset, as: SIMD16<Float>.self) : value
        rc.storeBytes(of: target, toByteOffset: offset, as: SIMD16<Float>.self)
    }
    put(c0, 0); put(c1, row); put(c2, 2 * row); put(c3, 3 * row); put(c4, 4 * row); put(c5, 5 * row)
}

/// C[m, n] (+)= A[m, pairs] B[pairs, n] in bf16 pairs, m a multiple of 6, n of 16 (strides as in bf16Tile6x2v).
@inline(never)
func bf16TiledProduct(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<UInt32>, _ aRow: Int, _ aPair: Int,
                      _ b: UnsafePointer<UInt32>, _ ldb: Int, m: Int, n: Int, pairs: Int, accumulate: Bool) {
    var column = 0
    while column + 32 <= n {
        var row = 0
        while row < m {
            bf16Tile6x2v(c + row * ldc + column, ldc, a + row * aRow, aRow, aPair, b + column, ldb, pairs, accumulate)
            row += 6
        }
        column += 32
    }
    if column < n {
        var row = 0
        while row < m {
            bf16Tile6x1v(c + row * ldc + column, ldc, a + row * aRow, aRow, aPair, b + column, ldb, pairs, accumulate)
            row += 6
        }
    }
}

/// The forward's packing of P for tests: words[j] = the bf16 pair (p[2j], p[2j+1]), each rounded to nearest even.
@inline(never)
public func bf16ProbabilityPairs(_ words: UnsafeMutablePointer<UInt32>, _ p: UnsafePointer<Float>, pairCount: Int) {
    packPairs(words, p, pairCount: pairCount, factor: 1)
}

/// packPairs for tests.
@inline(never)
public func bf16PackPairs(_ words: UnsafeMutablePointer<UInt32>, _ x: UnsafePointer<Float>, pairCount: Int, factor: Float) {
    packPairs(words, x, pairCount: pairCount, factor: factor)
}

/// interleaveRows for tests.
@inline(never)
public func bf16InterleaveRows(_ words: UnsafeMutablePointer<UInt32>, _ even: UnsafePointer<Float>, _ odd: UnsafePointer<Float>?, count: Int,
                               factor: Float) {
    interleaveRows(words, even, odd, count: count, factor: factor)
}

/// The bf16 forward of one (batch, head) pair: out rows (stride outStride) = softmax(scale q k^T) v and
/// logSumExp[i], as flashAttentionForwardPair but with bf16 products; keyTile only sizes nothing here
/// (the same arguments as the fp32 kernel's, so both run through one driver call).
@inline(never)
public func flashAttentionForwardPairBF16(
    _ out: UnsafeMutablePointer<Float>, outStride: Int, logSumExp: UnsafeMutablePointer<Float>,
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, qkvStride: Int,
    seq: Int, headDim: Int, scale: Float, queryTile: Int, keyTile: Int, forwardKeyTile: Int, paddedSeq: Int,
    workspace: UnsafeMutablePointer<Float>
) {
    let layout = bf16ForwardLayout(paddedSeq: paddedSeq, headDim: headDim, queryTile: queryTile, forwardKeyTile: forwardKeyTile)
    let raw = UnsafeMutableRawPointer(workspace)
    func words(_ offset: Int) -> UnsafeMutablePointer<UInt32> { (raw + offset * 4).assumingMemoryBound(to: UInt32.self) }
    let keyWords = words(layout.keyWords), valueWords = words(layout.valueWords), queryWords = words(layout.queryWords)
    let probabilityWords = words(layout.probabilityWords)
    let scores = workspace + layout.scores, accumulator = workspace + layout.accumulator
    let rowMaximum = workspace + layout.rowMaximum, rowSum = workspace + layout.rowSum, corrections = workspace + layout.corrections
    let pairs = headDim / 2, probabilityStride = forwardKeyTile / 2
    // K as words along the head dim: keyWords[p * paddedSeq + j] = (k[j][2p], k[j][2p+1]); zero past seq
    packPairsTransposed(keyWords, k, stride: qkvStride, seq: seq, paddedSeq: paddedSeq, headDim: headDim)
    // V as words along the keys: valueWords[jp * headDim + d] = (v[2jp][d], v[2jp+1][d]); zero rows past seq
    packRowPairs(valueWords, v, stride: qkvStride, rows: seq, pairRows: paddedSeq / 2, headDim: headDim, factor: 1)
    let factor = scale * log2e
    var first = 0
    while first < seq {
        let rows = min(queryTile, seq - first), paddedRows = roundUp(rows, 6)
        // (scale log2(e) q) as words along the head dim; zero rows up to a multiple of 6
        for i in 0..<rows { packPairs(queryWords + i * pairs, q + (first + i) * qkvStride, pairCount: pairs, factor: factor) }
        (queryWords + rows * pairs).initialize(repeating: 0, count: (paddedRows - rows) * pairs)
        accumulator.initialize(repeating: 0, count: paddedRows * headDim)
        rowMaximum.initialize(repeating: -.infinity, count: rows)
        rowSum.initialize(repeating: 0, count: rows)
        var key = 0
        while key < seq {
            let keys = min(forwardKeyTile, seq - key), keyColumns = roundUp(keys, 16)
            // S (base-2 units) on the tile, then each row's maximum over its valid keys
            bf16TiledProduct(scores, forwardKeyTile, queryWords, pairs, 1, keyWords + key, paddedSeq, m: paddedRows, n: keyColumns,
                             pairs: pairs, accumulate: false)
            // P = 2^(S - max) in fp32 (zero past the valid keys, up to the next multiple of 16), the row
            // sums from those fp32 values, the running output rescaled; then P as bf16 pairs along the keys
            onlineSoftmaxTile(scores, stride: forwardKeyTile, rows: rows, keys: keys, rowMaximum: rowMaximum, rowSum: rowSum, corrections: corrections,
                              accumulator: accumulator, headDim: headDim) { i in lanesMaximum(scores + i * forwardKeyTile, keys) }
            for i in 0..<rows {
                packPairs(probabilityWords + i * probabilityStride, scores + i * forwardKeyTile, pairCount: keyColumns / 2, factor: 1)
            }
            (probabilityWords + rows * probabilityStride).initialize(repeating: 0, count: (paddedRows - rows) * probabilityStride)
            // O += P V on the tile (pairs of keys; a lone last key pairs with a zero probability and value row)
            bf16TiledProduct(accumulator, headDim, probabilityWords, probabilityStride, 1, valueWords + key / 2 * headDim, headDim,
                             m: paddedRows, n: headDim, pairs: (keys + 1) / 2, accumulate: true)
            key += keys
        }
        for i in 0..<rows {
            let scaleBy = 1 / rowSum[i]
            let target = out + (first + i) * outStride, source = accumulator + i * headDim
            for d in 0..<headDim { target[d] = source[d] * scaleBy }
            logSumExp[first + i] = (rowMaximum[i] + log2f(rowSum[i])) * ln2
        }
        first += rows
    }
}
