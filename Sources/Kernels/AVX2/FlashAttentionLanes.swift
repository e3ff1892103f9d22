// The Float fast path of the fused ("flash") attention (docs/SPEC.md §4 attention; Kernels/FlashAttention.swift
// is the generic driver): one (batch, head) pair forward with online softmax, and its recomputing
// backward (FlashAttention-2), built on 6-row x 2-vector / 6-row x 1-vector register-tiled FMA
// micro-kernels over small query-tile x key-tile blocks in a per-worker workspace.
// Written in FloatLanes, the vector type of the module it is compiled into (Lanes.swift beside it):
// this one file is the 8-lane AVX2 + FMA kernel of KernelsAVX2 and, through a symbolic link, the
// 16-lane AVX-512 kernel of KernelsAVX512 (and of KernelsLanes16, which builds the 16-lane code for AVX2
// so every AVX2 machine tests it, and runs the bf16 attention of emulated bf16 matmuls). With L lanes: head dims must be multiples of L, the query
// tile a multiple of 6 and the key tiles multiples of 3 L (both 6 and L divide them). Same conventions as
// VectorMath.swift: only pointers and scalars cross the module boundary, entry points are @inline(never).
#if canImport(Glibc)
import Glibc
#endif

/// Offsets (in floats) of the parts of one worker's workspace, and its size. A tuple, not a struct: a
/// struct's value witnesses would call weak `__swift_memcpyN_M` helpers compiled for this module's
/// instruction set, which the linker may pick for baseline code of another module (see
/// WideModuleSymbolTests).
typealias FlashWorkspaceLayout = (keysTransposed: Int, valuesTransposed: Int, rowsPacked: Int, queryTile: Int, outputGradientTile: Int,
                                  probabilities: Int, probabilityGradients: Int, accumulator: Int, rowMaximum: Int, rowSum: Int,
                                  rowMaximumLanes: Int, corrections: Int, delta: Int, keyGradients: Int, valueGradients: Int, count: Int)

@inline(__always)
func flashWorkspaceLayout(paddedSeq: Int, headDim: Int, queryTile: Int, keyTile: Int, forwardKeyTile: Int) -> FlashWorkspaceLayout {
    var at = 0
    func take(_ n: Int) -> Int { defer { at += (n + 15) / 16 * 16 }; return at }
    let keysTransposed = take(headDim * paddedSeq)
    let valuesTransposed = take(headDim * paddedSeq)
    let rowsPacked = take(paddedSeq * headDim)
    let queryTileOffset = take(queryTile * headDim)
    let outputGradientTile = take(queryTile * headDim)
    let probabilities = take(queryTile * max(keyTile, forwardKeyTile))
    let probabilityGradients = take(queryTile * keyTile)
    let accumulator = take(queryTile * headDim)
    let rowMaximum = take(queryTile)
    let rowSum = take(queryTile)
    let rowMaximumLanes = take(roundUp(queryTile, 6) * laneCount)
    let corrections = take(roundUp(queryTile, laneCount))
    let delta = take(paddedSeq)
    let keyGradients = take(paddedSeq * headDim)
    let valueGradients = take(paddedSeq * headDim)
    return (keysTransposed, valuesTransposed, rowsPacked, queryTileOffset, outputGradientTile, probabilities, probabilityGradients,
            accumulator, rowMaximum, rowSum, rowMaximumLanes, corrections, delta, keyGradients, valueGradients, at)
}

/// Floats one worker's workspace needs for flashAttentionForwardPair / BackwardPair.
public func flashWorkspaceCount(paddedSeq: Int, headDim: Int, queryTile: Int, keyTile: Int, forwardKeyTile: Int) -> Int {
    flashWorkspaceLayout(paddedSeq: paddedSeq, headDim: headDim, queryTile: queryTile, keyTile: keyTile, forwardKeyTile: forwardKeyTile).count
}

/// C[6, 2L] (+)= A[6, depth] B[depth, 2L] (L = laneCount); A(r, d) = a[r * aRow + d * aDepth], B row d at
/// b + d * ldb. With `lanes` (L per row; accumulate false), also lanes[r] = max(lanes[r], both halves of C's row r): the
/// forward's score tile with its row maximum folded into the store, which saves a pass over the tile.
/// Not inlined: inlined into its caller, the 12 accumulators no longer stayed in registers.
@inline(never)
func microTile6x2v(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ aRow: Int, _ aDepth: Int,
                   _ b: UnsafePointer<Float>, _ ldb: Int, _ depth: Int, _ accumulate: Bool, _ lanes: UnsafeMutablePointer<Float>? = nil) {
    let zero = FloatLanes(repeating: 0)
    var c00 = zero, c01 = zero, c10 = zero, c11 = zero, c20 = zero, c21 = zero
    var c30 = zero, c31 = zero, c40 = zero, c41 = zero, c50 = zero, c51 = zero
    let a0 = a, a1 = a + aRow, a2 = a + 2 * aRow, a3 = a + 3 * aRow, a4 = a + 4 * aRow, a5 = a + 5 * aRow
    var rb = UnsafeRawPointer(b)
    let step = ldb &* 4
    var index = 0, remaining = depth
    while remaining > 0 {
        let b0 = rb.loadUnaligned(as: FloatLanes.self)
        let b1 = rb.loadUnaligned(fromByteOffset: laneBytes, as: FloatLanes.self)
        var x = FloatLanes(repeating: a0[index])
        c00 = c00.addingProduct(x, b0); c01 = c01.addingProduct(x, b1)
        x = FloatLanes(repeating: a1[index])
        c10 = c10.addingProduct(x, b0); c11 = c11.addingProduct(x, b1)
        x = FloatLanes(repeating: a2[index])
        c20 = c20.addingProduct(x, b0); c21 = c21.addingProduct(x, b1)
        x = FloatLanes(repeating: a3[index])
        c30 = c30.addingProduct(x, b0); c31 = c31.addingProduct(x, b1)
        x = FloatLanes(repeating: a4[index])
        c40 = c40.addingProduct(x, b0); c41 = c41.addingProduct(x, b1)
        x = FloatLanes(repeating: a5[index])
        c50 = c50.addingProduct(x, b0); c51 = c51.addingProduct(x, b1)
        rb = rb.advanced(by: step)
        index = index &+ aDepth
        remaining = remaining &- 1
    }
    let rc = UnsafeMutableRawPointer(c), row = ldc * 4
    @inline(__always) func put(_ value: FloatLanes, _ offset: Int) {
        let target = accumulate ? value + rc.loadUnaligned(fromByteOffset: offset, as: FloatLanes.self) : value
        rc.storeBytes(of: target, toByteOffset: offset, as: FloatLanes.self)
    }
    put(c00, 0); put(c01, laneBytes)
    put(c10, row); put(c11, row + laneBytes)
    put(c20, 2 * row); put(c21, 2 * row + laneBytes)
    put(c30, 3 * row); put(c31, 3 * row + laneBytes)
    put(c40, 4 * row); put(c41, 4 * row + laneBytes)
    put(c50, 5 * row); put(c51, 5 * row + laneBytes)
    guard let lanes else { return }
    let rl = UnsafeMutableRawPointer(lanes)
    @inline(__always) func fold(_ left: FloatLanes, _ right: FloatLanes, _ r: Int) {
        var best = rl.loadUnaligned(fromByteOffset: r * laneBytes, as: FloatLanes.self)
        best.replace(with: left, where: left .> best)
        best.replace(with: right, where: right .> best)
        rl.storeBytes(of: best, toByteOffset: r * laneBytes, as: FloatLanes.self)
    }
    // (called with accumulate false only: the registers are what was stored)
    fold(c00, c01, 0); fold(c10, c11, 1); fold(c20, c21, 2); fold(c30, c31, 3); fold(c40, c41, 4); fold(c50, c51, 5)
}

/// C[6, L] (+)= A[6, depth] B[depth, L] (the L-column remainder of microTile6x2v).
@inline(never)
func microTile6x1v(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ aRow: Int, _ aDepth: Int,
                  _ b: UnsafePointer<Float>, _ ldb: Int, _ depth: Int, _ accumulate: Bool) {
    let zero = FloatLanes(repeating: 0)
    var c0 = zero, c1 = zero, c2 = zero, c3 = zero, c4 = zero, c5 = zero
    let a0 = a, a1 = a + aRow, a2 = a + 2 * aRow, a3 = a + 3 * aRow, a4 = a + 4 * aRow, a5 = a + 5 * aRow
    var rb = UnsafeRawPointer(b)
    let step = ldb &* 4
    var index = 0, remaining = depth
    while remaining > 0 {
        let b0 = rb.loadUnaligned(as: FloatLanes.self)
        c0 = c0.addingProduct(FloatLanes(repeating: a0[index]), b0)
        c1 = c1.addingProduct(FloatLanes(repeating: a1[index]), b0)
        c2 = c2.addingProduct(FloatLanes(repeating: a2[index]), b0)
        c3 = c3.addingProduct(FloatLanes(repeating: a3[index]), b0)
        c4 = c4.addingProduct(FloatLanes(repeating: a4[index]), b0)
        c5 = c5.addingProduct(FloatLanes(repeating: a5[index]), b0)
        rb = rb.advanced(by: step)
        index = index &+ aDepth
        remaining = remaining &- 1
    }
    let rc = UnsafeMutableRawPointer(c), row = ldc * 4
    @inline(__always) func put(_ value: FloatLanes, _ offset: Int) {
        let target = accumulate ? value + rc.loadUnaligned(fromByteOffset: offset, as: FloatLanes.self) : value
        rc.storeBytes(of: target, toByteOffset: offset, as: FloatLanes.self)
    }
    put(c0, 0); put(c1, row); put(c2, 2 * row); put(c3, 3 * row); put(c4, 4 * row); put(c5, 5 * row)
}

/// C[m, n] = A[m, depth] B[depth, n] (A rows at stride aRow, contiguous in depth) for m a multiple of 6
/// and n a multiple of L; lanes (L per row) keep the running row maximum of C over its first `valid`
/// columns (the rest, zero-padded keys, are stored but left out of the maximum).
@inline(never)
func scoreProductRowMaximum(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ aRow: Int,
                            _ b: UnsafePointer<Float>, _ ldb: Int, m: Int, n: Int, valid: Int, depth: Int, lanes: UnsafeMutablePointer<Float>) {
    // 2L-column blocks of valid keys only: the maximum folded into the micro-kernel's store
    var column = 0
    while column + 2 * laneCount <= valid {
        var row = 0
        while row < m {
            microTile6x2v(c + row * ldc + column, ldc, a + row * aRow, aRow, 1, b + column, ldb, depth, false, lanes + row * laneCount)
            row += 6
        }
        column += 2 * laneCount
    }
    // the rest (at most 2L + L columns, some past `valid`): stored, then folded over the valid ones
    while column < n {
        let width = n - column >= 2 * laneCount ? 2 * laneCount : laneCount
        let keepLeft = validLanes(column, valid), keepRight = validLanes(column + laneCount, valid)
        var row = 0
        while row < m {
            if width == 2 * laneCount {
                microTile6x2v(c + row * ldc + column, ldc, a + row * aRow, aRow, 1, b + column, ldb, depth, false)
            } else {
                microTile6x1v(c + row * ldc + column, ldc, a + row * aRow, aRow, 1, b + column, ldb, depth, false)
            }
            for r in row..<(row + 6) {
                let line = UnsafeMutableRawPointer(lanes + r * laneCount), scores = UnsafeRawPointer(c + r * ldc + column)
                var best = line.loadUnaligned(as: FloatLanes.self)
                let left = scores.loadUnaligned(as: FloatLanes.self)
                best.replace(with: left, where: keepLeft .& (left .> best))
                if width == 2 * laneCount {
                    let right = scores.loadUnaligned(fromByteOffset: laneBytes, as: FloatLanes.self)
                    best.replace(with: right, where: keepRight .& (right .> best))
                }
                line.storeBytes(of: best, as: FloatLanes.self)
            }
            row += 6
        }
        column += width
    }
}

/// C[m, n] (+)= A[m, depth] B[depth, n] for m a multiple of 6 and n a multiple of L (strides as in
/// microTile6x2v). Every row of A and column of B up to m and n must be readable.
@inline(never)
func tiledProduct(_ c: UnsafeMutablePointer<Float>, _ ldc: Int, _ a: UnsafePointer<Float>, _ aRow: Int, _ aDepth: Int,
                  _ b: UnsafePointer<Float>, _ ldb: Int, m: Int, n: Int, depth: Int, accumulate: Bool) {
    var column = 0
    while column + 2 * laneCount <= n {
        var row = 0
        while row < m {
            microTile6x2v(c + row * ldc + column, ldc, a + row * aRow, aRow, aDepth, b + column, ldb, depth, accumulate)
            row += 6
        }
        column += 2 * laneCount
    }
    if column < n {
        var row = 0
        while row < m {
            microTile6x1v(c + row * ldc + column, ldc, a + row * aRow, aRow, aDepth, b + column, ldb, depth, accumulate)
            row += 6
        }
    }
}

/// 2^x lane by lane, x <= 0 up to rounding (clamped below at -125): round to the nearest integer n (the
/// 1.5 * 2^23 trick), a degree-5 polynomial for 2^f on [-0.5, 0.5] in fused multiply-adds (constant
/// term exactly 1, so 2^0 = 1; relative error 9.2e-8 in exact arithmetic, 1.7e-7 evaluated in Float;
/// coefficients fitted by iteratively reweighted least squares on the maximum relative error), then
/// 2^n added to the exponent field as an integer. Scores are kept in base-2 units (q pre-scaled by
/// log2(e) / sqrt(hd)), which saves exp's range reduction. On the forward's score tiles the exp is
/// most of the work between the two products: 5 multiply-adds instead of the 6 + 1 multiply before.
@inline(__always)
func exp2Lanes(_ input: FloatLanes) -> FloatLanes {
    // Only the low end is clamped: the callers' arguments are <= 0 (score minus row max or log-sum-exp),
    // up to rounding. -125 keeps p * 2^n normal (p >= 2^-0.5), so adding n to the exponent is exact.
    let low = FloatLanes(repeating: -125)
    let x = input.replacing(with: low, where: input .< low)
    let magic = FloatLanes(repeating: 12582912)  // 1.5 * 2^23
    let shifted = x + magic
    let f = x - (shifted - magic)
    var p = FloatLanes(repeating: 1.3264701709e-3)
    p = FloatLanes(repeating: 9.6715045897e-3).addingProduct(p, f)
    p = FloatLanes(repeating: 5.5507337312e-2).addingProduct(p, f)
    p = FloatLanes(repeating: 2.4022242210e-1).addingProduct(p, f)
    p = FloatLanes(repeating: 6.9314697766e-1).addingProduct(p, f)
    p = FloatLanes(repeating: 1).addingProduct(p, f)
    // shifted's bits are 0x4B40_0000 + n; shifted left by 23 they leave exactly n << 23 (mod 2^32).
    let exponent = unsafeBitCast(shifted, to: Int32Lanes.self) &<< 23
    return unsafeBitCast(unsafeBitCast(p, to: Int32Lanes.self) &+ exponent, to: FloatLanes.self)
}

/// log2(e) and ln(2).
let log2e: Float = 1.44269504088896341, ln2: Float = 0.693147180559945309

/// Bytes of one vector.
@inline(__always) var laneBytes: Int { laneCount &* 4 }

/// The vector width this module's attention kernels were built with (8 in KernelsAVX2, 16 in
/// KernelsAVX512 and KernelsLanes16): the driver's tile rules depend on it.
@inline(never)
public func flashAttentionLaneCount() -> Int { laneCount }

@inline(__always)
func roundUp(_ value: Int, _ multiple: Int) -> Int { (value + multiple - 1) / multiple * multiple }

/// Lanes j of the L-wide chunk starting at `start` with start + j < valid.
@inline(__always)
func validLanes(_ start: Int, _ valid: Int) -> SIMDMask<Int32Lanes> {
    laneIndices .< Int32Lanes(repeating: Int32(clamping: valid - start))
}

@inline(__always)
func loadLanes(_ line: UnsafeRawPointer, _ index: Int) -> FloatLanes {
    line.loadUnaligned(fromByteOffset: index &* 4, as: FloatLanes.self)
}

@inline(__always)
func storeLanes(_ value: FloatLanes, _ line: UnsafeMutableRawPointer, _ index: Int) {
    line.storeBytes(of: value, toByteOffset: index &* 4, as: FloatLanes.self)
}

/// line[j] = 2^(line[j] - shift) for j < valid and 0 up to the next multiple of L; returns the sum.
/// Unrolled by 4: the exp's chain of fused multiply-adds is latency-bound one vector at a time.
@inline(__always)
func exponentiateRow(_ line: UnsafeMutableRawPointer, _ valid: Int, _ shift: Float) -> Float {
    let offset = FloatLanes(repeating: shift)
    var sum0 = FloatLanes(repeating: 0), sum1 = sum0, sum2 = sum0, sum3 = sum0
    let l = laneCount, full = valid / l * l
    var j = 0
    while j + 4 * l <= full {
        let a = exp2Lanes(loadLanes(line, j) - offset), b = exp2Lanes(loadLanes(line, j + l) - offset)
        let c = exp2Lanes(loadLanes(line, j + 2 * l) - offset), d = exp2Lanes(loadLanes(line, j + 3 * l) - offset)
        storeLanes(a, line, j); storeLanes(b, line, j + l); storeLanes(c, line, j + 2 * l); storeLanes(d, line, j + 3 * l)
        sum0 += a; sum1 += b; sum2 += c; sum3 += d
        j += 4 * l
    }
    while j < full {
        let a = exp2Lanes(loadLanes(line, j) - offset)
        storeLanes(a, line, j)
        sum0 += a
        j += l
    }
    if full < valid {
        var a = exp2Lanes(loadLanes(line, full) - offset)
        a.replace(with: 0, where: .!validLanes(full, valid))
        storeLanes(a, line, full)
        sum1 += a
    }
    return horizontalSum((sum0 + sum1) + (sum2 + sum3))
}

/// p[j] = 2^(p[j] - shift) and g[j] = p[j] * (g[j] - delta) for j < valid, both 0 up to the next
/// multiple of L (unrolled by 2, as exponentiateRow).
@inline(__always)
func probabilityGradientRow(_ p: UnsafeMutableRawPointer, _ g: UnsafeMutableRawPointer, _ valid: Int, _ shift: Float, _ delta: Float) {
    let offset = FloatLanes(repeating: shift), rowDelta = FloatLanes(repeating: delta)
    let l = laneCount, full = valid / l * l
    var j = 0
    while j + 2 * l <= full {
        let a = exp2Lanes(loadLanes(p, j) - offset), b = exp2Lanes(loadLanes(p, j + l) - offset)
        storeLanes(a, p, j); storeLanes(b, p, j + l)
        storeLanes(a * (loadLanes(g, j) - rowDelta), g, j)
        storeLanes(b * (loadLanes(g, j + l) - rowDelta), g, j + l)
        j += 2 * l
    }
    if j < full {
        let a = exp2Lanes(loadLanes(p, j) - offset)
        storeLanes(a, p, j)
        storeLanes(a * (loadLanes(g, j) - rowDelta), g, j)
    }
    if full < valid {
        var a = exp2Lanes(loadLanes(p, full) - offset)
        a.replace(with: 0, where: .!validLanes(full, valid))
        storeLanes(a, p, full)
        storeLanes(a * (loadLanes(g, full) - rowDelta), g, full)
    }
}

/// t[d * paddedSeq + j] = x[j * stride + d] for j < seq, 0 for seq <= j < paddedSeq (headDim a
/// multiple of L): each row read once as L-float vectors, its values stored down the columns.
@inline(__always)
func packTransposed(_ t: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, stride: Int, seq: Int, paddedSeq: Int, headDim: Int) {
    let rx = UnsafeRawPointer(x)
    for j in 0..<seq {
        let line = rx + (j &* stride) &* 4
        var d = 0
        while d < headDim {
            let v = line.loadUnaligned(fromByteOffset: d &* 4, as: FloatLanes.self)
            let column = t + (d &* paddedSeq &+ j)
            for lane in 0..<laneCount { column[lane &* paddedSeq] = v[lane] }
            d &+= laneCount
        }
    }
    for d in 0..<headDim { (t + d * paddedSeq + seq).initialize(repeating: 0, count: paddedSeq - seq) }
}

/// rows x headDim rows of x (row stride `stride`) times `factor` into t (row stride headDim), zero rows
/// up to paddedRows; L-float vectors (the element loop was not vectorised: 3.3 -> 0.7 ms per cpu-bench
/// attention layer for V, AMD EPYC Zen 1, one thread).
@inline(__always)
func packRows(_ t: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, stride: Int, rows: Int, paddedRows: Int, headDim: Int, factor: Float) {
    scaleRows(t, rowStride: headDim, x, stride: stride, rows: rows, headDim: headDim, factor: factor)
    (t + rows * headDim).initialize(repeating: 0, count: (paddedRows - rows) * headDim)
}

/// t[i * rowStride + d] = x[i * stride + d] * factor for i < rows, d < headDim (a multiple of L).
@inline(__always)
func scaleRows(_ t: UnsafeMutablePointer<Float>, rowStride: Int, _ x: UnsafePointer<Float>, stride: Int, rows: Int, headDim: Int, factor: Float) {
    let f = FloatLanes(repeating: factor)
    let rt = UnsafeMutableRawPointer(t), rx = UnsafeRawPointer(x)
    for i in 0..<rows {
        let source = rx + (i &* stride) &* 4, target = rt + (i &* rowStride) &* 4
        var d = 0
        while d < headDim {
            target.storeBytes(of: source.loadUnaligned(fromByteOffset: d &* 4, as: FloatLanes.self) * f, toByteOffset: d &* 4, as: FloatLanes.self)
            d &+= laneCount
        }
    }
}

/// The online softmax on one tile of scores (rows at `stride`, base-2 units), given each row's maximum over
/// the tile's valid keys: new row maxima, corrections 2^(old max - new max) L rows at a time, P = 2^(S - max)
/// in place (zero past the valid keys up to the next multiple of L) with the row sums, then the running
/// sums and the output rows rescaled. Shared by the fp32 and the bf16 forward (FlashAttentionBF16.swift).
@inline(__always)
func onlineSoftmaxTile(_ scores: UnsafeMutablePointer<Float>, stride: Int, rows: Int, keys: Int, rowMaximum: UnsafeMutablePointer<Float>,
                       rowSum: UnsafeMutablePointer<Float>, corrections: UnsafeMutablePointer<Float>, accumulator: UnsafeMutablePointer<Float>,
                       headDim: Int, tileMaximum: (Int) -> Float) {
    for i in 0..<rows {
        let newMaximum = max(rowMaximum[i], tileMaximum(i))
        corrections[i] = rowMaximum[i] - newMaximum
        rowMaximum[i] = newMaximum
    }
    var i = 0
    while i < rows {
        let line = UnsafeMutableRawPointer(corrections + i)
        storeLanes(exp2Lanes(loadLanes(line, 0)), line, 0)
        i += laneCount
    }
    for i in 0..<rows {
        let sum = exponentiateRow(UnsafeMutableRawPointer(scores + i * stride), keys, rowMaximum[i])
        let correction = corrections[i]
        rowSum[i] = rowSum[i] * correction + sum
        if correction != 1 {
            let o = UnsafeMutableRawPointer(accumulator + i * headDim)
            let factor = FloatLanes(repeating: correction)
            var d = 0
            while d < headDim {
                o.storeBytes(of: o.loadUnaligned(fromByteOffset: d * 4, as: FloatLanes.self) * factor, toByteOffset: d * 4, as: FloatLanes.self)
                d += laneCount
            }
        }
    }
}

/// Forward of one (batch, head) pair: out rows (stride outStride) = softmax(scale q k^T) v and
/// logSumExp[i] = log sum_j exp(scale q_i k_j), q/k/v rows of headDim floats at stride qkvStride.
/// Tiles of forwardKeyTile keys; keyTile (the backward's) only places the workspace's parts.
@inline(never)
public func flashAttentionForwardPair(
    _ out: UnsafeMutablePointer<Float>, outStride: Int, logSumExp: UnsafeMutablePointer<Float>,
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, qkvStride: Int,
    seq: Int, headDim: Int, scale: Float, queryTile: Int, keyTile: Int, forwardKeyTile: Int, paddedSeq: Int,
    workspace: UnsafeMutablePointer<Float>
) {
    let layout = flashWorkspaceLayout(paddedSeq: paddedSeq, headDim: headDim, queryTile: queryTile, keyTile: keyTile, forwardKeyTile: forwardKeyTile)
    let kt = workspace + layout.keysTransposed, qTile = workspace + layout.queryTile
    let scores = workspace + layout.probabilities, accumulator = workspace + layout.accumulator
    let rowMaximum = workspace + layout.rowMaximum, rowSum = workspace + layout.rowSum
    // K^T and V packed contiguous: read in place (row stride 3 D), the rows of V fell in few L1 sets.
    let vPacked = workspace + layout.rowsPacked
    packTransposed(kt, k, stride: qkvStride, seq: seq, paddedSeq: paddedSeq, headDim: headDim)
    packRows(vPacked, v, stride: qkvStride, rows: seq, paddedRows: seq, headDim: headDim, factor: 1)
    let lanes = workspace + layout.rowMaximumLanes, corrections = workspace + layout.corrections
    var first = 0
    while first < seq {
        let rows = min(queryTile, seq - first), paddedRows = roundUp(rows, 6)
        packRows(qTile, q + first * qkvStride, stride: qkvStride, rows: rows, paddedRows: paddedRows, headDim: headDim, factor: scale * log2e)
        accumulator.initialize(repeating: 0, count: paddedRows * headDim)
        rowMaximum.initialize(repeating: -.infinity, count: rows)
        rowSum.initialize(repeating: 0, count: rows)
        // L lanes per row holding the running maximum over every full key tile so far
        lanes.initialize(repeating: -.infinity, count: paddedRows * laneCount)
        var key = 0
        while key < seq {
            let keys = min(forwardKeyTile, seq - key), keyColumns = roundUp(keys, laneCount)
            // S = (scale log2(e) Q) K^T on the tile (base-2 units), the row maximum over the valid keys
            // folded into the store (the last tile's zero-padded columns are left out of it)
            scoreProductRowMaximum(scores, forwardKeyTile, qTile, headDim, kt + key, paddedSeq, m: paddedRows, n: keyColumns, valid: keys,
                                   depth: headDim, lanes: lanes)
            onlineSoftmaxTile(scores, stride: forwardKeyTile, rows: rows, keys: keys, rowMaximum: rowMaximum, rowSum: rowSum, corrections: corrections,
                              accumulator: accumulator, headDim: headDim) { i in
                horizontalMaximum(UnsafeRawPointer(lanes + i * laneCount).loadUnaligned(as: FloatLanes.self))
            }
            // O += P V on the tile (valid keys only)
            tiledProduct(accumulator, headDim, scores, forwardKeyTile, 1, vPacked + key * headDim, headDim, m: paddedRows, n: headDim, depth: keys, accumulate: true)
            key += keys
        }
        for i in 0..<rows {
            scaleRows(out + (first + i) * outStride, rowStride: 0, accumulator + i * headDim, stride: 0, rows: 1, headDim: headDim, factor: 1 / rowSum[i])
            logSumExp[first + i] = (rowMaximum[i] + log2f(rowSum[i])) * ln2
        }
        first += rows
    }
}

/// Backward of one (batch, head) pair (FlashAttention-2): from dout, the forward's out and
/// logSumExp, writes dq, dk, dv rows (stride dqkvStride, overwritten).
@inline(never)
public func flashAttentionBackwardPair(
    dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>, dqkvStride: Int,
    dout: UnsafePointer<Float>, out: UnsafePointer<Float>, outStride: Int, logSumExp: UnsafePointer<Float>,
    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>, qkvStride: Int,
    seq: Int, headDim: Int, scale: Float, queryTile: Int, keyTile: Int, forwardKeyTile: Int, paddedSeq: Int,
    workspace: UnsafeMutablePointer<Float>
) {
    let layout = flashWorkspaceLayout(paddedSeq: paddedSeq, headDim: headDim, queryTile: queryTile, keyTile: keyTile, forwardKeyTile: forwardKeyTile)
    let kt = workspace + layout.keysTransposed, vt = workspace + layout.valuesTransposed
    let qTile = workspace + layout.queryTile, dOTile = workspace + layout.outputGradientTile
    let p = workspace + layout.probabilities, dS = workspace + layout.probabilityGradients
    let dQTile = workspace + layout.accumulator, delta = workspace + layout.delta
    let dKAll = workspace + layout.keyGradients, dVAll = workspace + layout.valueGradients
    packTransposed(kt, k, stride: qkvStride, seq: seq, paddedSeq: paddedSeq, headDim: headDim)
    packTransposed(vt, v, stride: qkvStride, seq: seq, paddedSeq: paddedSeq, headDim: headDim)
    let kPacked = workspace + layout.rowsPacked
    packRows(kPacked, k, stride: qkvStride, rows: seq, paddedRows: seq, headDim: headDim, factor: 1)
    dKAll.initialize(repeating: 0, count: paddedSeq * headDim)
    dVAll.initialize(repeating: 0, count: paddedSeq * headDim)
    // D_i = rowsum(dO_i * O_i)
    for i in 0..<seq {
        let a = UnsafeRawPointer(dout + i * outStride), b = UnsafeRawPointer(out + i * outStride)
        var sum = FloatLanes(repeating: 0)
        var d = 0
        while d < headDim {
            sum = sum.addingProduct(a.loadUnaligned(fromByteOffset: d * 4, as: FloatLanes.self), b.loadUnaligned(fromByteOffset: d * 4, as: FloatLanes.self))
            d += laneCount
        }
        delta[i] = horizontalSum(sum)
    }
    var first = 0
    while first < seq {
        let rows = min(queryTile, seq - first), paddedRows = roundUp(rows, 6)
        packRows(qTile, q + first * qkvStride, stride: qkvStride, rows: rows, paddedRows: paddedRows, headDim: headDim, factor: scale * log2e)
        packRows(dOTile, dout + first * outStride, stride: outStride, rows: rows, paddedRows: paddedRows, headDim: headDim, factor: 1)
        dQTile.initialize(repeating: 0, count: paddedRows * headDim)
        var key = 0
        while key < seq {
            let keys = min(keyTile, seq - key), keyColumns = roundUp(keys, laneCount), keyRows = roundUp(keys, 6)
            let width = max(keyColumns, keyRows)
            // S = (scale log2(e) Q) K^T, P = 2^(S - log2(e) lse); dP = dO V^T
            tiledProduct(p, keyTile, qTile, headDim, 1, kt + key, paddedSeq, m: paddedRows, n: keyColumns, depth: headDim, accumulate: false)
            tiledProduct(dS, keyTile, dOTile, headDim, 1, vt + key, paddedSeq, m: paddedRows, n: keyColumns, depth: headDim, accumulate: false)
            // dS = P * (dP - D)
            for i in 0..<rows {
                probabilityGradientRow(UnsafeMutableRawPointer(p + i * keyTile), UnsafeMutableRawPointer(dS + i * keyTile), keys,
                                       logSumExp[first + i] * log2e, delta[first + i])
                for j in keyColumns..<width {
                    p[i * keyTile + j] = 0
                    dS[i * keyTile + j] = 0
                }
            }
            // dV_j += P^T dO_i ; dK_j += dS^T (scale log2(e) Q_i) (times ln 2 at the end) ; dQ_i += dS K_j (scaled at the end)
            tiledProduct(dVAll + key * headDim, headDim, p, 1, keyTile, dOTile, headDim, m: keyRows, n: headDim, depth: rows, accumulate: true)
            tiledProduct(dKAll + key * headDim, headDim, dS, 1, keyTile, qTile, headDim, m: keyRows, n: headDim, depth: rows, accumulate: true)
            tiledProduct(dQTile, headDim, dS, keyTile, 1, kPacked + key * headDim, headDim, m: paddedRows, n: headDim, depth: keys, accumulate: true)
            key += keys
        }
        scaleRows(dq + first * dqkvStride, rowStride: dqkvStride, dQTile, stride: headDim, rows: rows, headDim: headDim, factor: scale)
        first += rows
    }
    scaleRows(dk, rowStride: dqkvStride, dKAll, stride: headDim, rows: seq, headDim: headDim, factor: ln2)
    scaleRows(dv, rowStride: dqkvStride, dVAll, stride: headDim, rows: seq, headDim: headDim, factor: 1)
}

/// out[i] = 2^x[i] through exp2Lanes (the attention kernels' exp), for tests and `arc-bench`: count may be
/// any size (the tail runs on a zero-padded vector).
@inline(never)
public func flashExponential2(_ out: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ count: Int) {
    var i = 0
    while i + laneCount <= count {
        storeLanes(exp2Lanes(loadLanes(UnsafeRawPointer(x), i)), UnsafeMutableRawPointer(out), i)
        i += laneCount
    }
    if i < count {
        var lane = FloatLanes(repeating: 0)
        for j in 0..<(count - i) { lane[j] = x[i + j] }
        let value = exp2Lanes(lane)
        for j in 0..<(count - i) { out[i + j] = value[j] }
    }
}
