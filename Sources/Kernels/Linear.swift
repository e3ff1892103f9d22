// Linear: out = inp W^T (+ bias), W stored [outFeatures, inFeatures] as in PyTorch (docs/SPEC.md §4:
// qkv/o/gate_up/down/lm_head have no bias; q_head has one). Backward accumulates into dweight/dbias
// (beta = 1) and overwrites dinp unless accumulateInput is set.

/// out[rows, outF] = inp[rows, inF] * weight[outF, inF]^T + bias[outF]
@inlinable
public func linearForward<T: KernelScalar>(
    _ out: UnsafeMutablePointer<T>,
    _ inp: UnsafePointer<T>, _ weight: UnsafePointer<T>, _ bias: UnsafePointer<T>?,
    rows: Int, inFeatures: Int, outFeatures: Int
) {
    parallelGemmRows(
        transposeB: true, m: rows, n: outFeatures, k: inFeatures,
        alpha: 1, a: inp, lda: inFeatures, b: weight, ldb: inFeatures, beta: 0, c: out, ldc: outFeatures)
    if let bias {
        for row in 0..<rows {
            let line = out + row * outFeatures
            for column in 0..<outFeatures { line[column] += bias[column] }
        }
    }
}

/// Rows per chunk of linearForwardChunked: 96 rows of the widest output of the cpu presets (gate|up,
/// 1024 floats) are 384 KB, inside one core's L2 cache.
public let linearEpilogueChunkRows = 96

/// out = inp weight^T (no bias) one chunk of at most chunkRows rows at a time per worker, each chunk
/// followed on the same worker by epilogue(chunk rows) while its output is still in that core's
/// cache: the element-wise step after a projection (RoPE, residual + RMSNorm, SwiGLU) reads cache
/// instead of memory. The epilogue must touch only its rows. Each row's sums are the gemm's, as in
/// linearForward (the rows are only split differently).
@inlinable
public func linearForwardChunked<T: KernelScalar>(
    _ out: UnsafeMutablePointer<T>, _ inp: UnsafePointer<T>, _ weight: UnsafePointer<T>,
    rows: Int, inFeatures: Int, outFeatures: Int, chunkRows: Int = linearEpilogueChunkRows,
    epilogue: (Range<Int>) -> Void
) {
    let pa = SendablePointer(UnsafeMutablePointer(mutating: inp)), pw = SendablePointer(UnsafeMutablePointer(mutating: weight))
    let pc = SendablePointer(out)
    forEachRowChunk(rows: rows, work: rows * inFeatures * outFeatures, chunkRows: chunkRows) { chunk in
        T.gemm(transposeA: false, transposeB: true, m: chunk.count, n: outFeatures, k: inFeatures, alpha: 1,
               a: pa.pointer + chunk.lowerBound * inFeatures, lda: inFeatures, b: pw.pointer, ldb: inFeatures, beta: 0,
               c: pc.pointer + chunk.lowerBound * outFeatures, ldc: outFeatures)
        epilogue(chunk)
    }
}

/// The rows 0..<rows split into one contiguous part per kernel worker (one part when the work, in
/// multiply-adds, is under 2^20), each part walked in chunks of at most chunkRows rows in order on
/// its worker: body(chunk) runs once per chunk, every row in exactly one chunk.
@inlinable
public func forEachRowChunk(rows: Int, work: Int, chunkRows: Int = linearEpilogueChunkRows, _ body: (Range<Int>) -> Void) {
    let parts = work >= 1 << 20 ? KernelThreads.parts : 1
    let chunk = max(1, chunkRows)
    parallelParts(rows, parts: parts) { _, range in
        var first = range.lowerBound
        while first < range.upperBound {
            let end = min(first + chunk, range.upperBound)
            body(first..<end)
            first = end
        }
    }
}

/// Row stride (in elements) for a scratch matrix of `columns` columns that a transposed gemm reads
/// down its columns: rows a multiple of 4 KB apart map to the same L1 cache sets, and oneDNN's
/// dweight product over a [rows, 1024] fp32 gradient then runs at 28 instead of 36 GFLOP/s per AVX2
/// core (BENCHMARKS.md). Such widths get 64 bytes of padding per row; others are kept.
@inlinable
public func aliasFreeRowStride<T>(columns: Int, of _: T.Type) -> Int {
    let bytes = MemoryLayout<T>.stride
    guard columns > 0, bytes > 0, (columns * bytes) % 4096 == 0 else { return columns }
    return columns + max(1, 64 / bytes)
}

/// dinp[rows] (+)= dout[rows] * weight for the rows `rows` only, on the calling thread (one chunk of
/// a chunked backward). dout's rows are doutStride elements apart.
@inlinable
public func linearInputGradientRows<T: KernelScalar>(
    _ dinp: UnsafeMutablePointer<T>, _ dout: UnsafePointer<T>, doutStride: Int, _ weight: UnsafePointer<T>,
    rows: Range<Int>, inFeatures: Int, outFeatures: Int, accumulate: Bool
) {
    guard !rows.isEmpty else { return }
    T.gemm(transposeA: false, transposeB: false, m: rows.count, n: inFeatures, k: outFeatures, alpha: 1,
           a: dout + rows.lowerBound * doutStride, lda: doutStride, b: weight, ldb: inFeatures,
           beta: accumulate ? 1 : 0, c: dinp + rows.lowerBound * inFeatures, ldc: inFeatures)
}

/// dweight[outF, inF] += dout^T * inp over all rows, split over the output features (each worker
/// owns its rows of dweight: no reduction). dout's rows are
/// doutStride elements apart.
@inlinable
public func linearWeightGradient<T: KernelScalar>(
    _ dweight: UnsafeMutablePointer<T>, _ dout: UnsafePointer<T>, doutStride: Int, _ inp: UnsafePointer<T>,
    rows: Int, inFeatures: Int, outFeatures: Int
) {
    let parts = rows * inFeatures * outFeatures >= 1 << 20 && outFeatures >= 16 * KernelThreads.count ? KernelThreads.count : 1
    let pw = SendablePointer(dweight), pd = SendablePointer(UnsafeMutablePointer(mutating: dout))
    let pi = SendablePointer(UnsafeMutablePointer(mutating: inp))
    parallelParts(outFeatures, parts: parts) { _, features in
        T.gemm(
            transposeA: true, transposeB: false, m: features.count, n: inFeatures, k: rows,
            alpha: 1, a: pd.pointer + features.lowerBound, lda: doutStride, b: pi.pointer, ldb: inFeatures, beta: 1,
            c: pw.pointer + features.lowerBound * inFeatures, ldc: inFeatures)
    }
}

/// dinp = dout * weight (overwritten, or added when accumulateInput); dweight += dout^T * inp; dbias += sum dout.
@inlinable
public func linearBackward<T: KernelScalar>(
    _ dinp: UnsafeMutablePointer<T>?, _ dweight: UnsafeMutablePointer<T>?, _ dbias: UnsafeMutablePointer<T>?,
    _ dout: UnsafePointer<T>, _ inp: UnsafePointer<T>, _ weight: UnsafePointer<T>,
    rows: Int, inFeatures: Int, outFeatures: Int, accumulateInput: Bool = false
) {
    if let dinp {
        parallelGemmRows(
            transposeB: false, m: rows, n: inFeatures, k: outFeatures,
            alpha: 1, a: dout, lda: outFeatures, b: weight, ldb: inFeatures,
            beta: accumulateInput ? 1 : 0, c: dinp, ldc: inFeatures)
    }
    if let dweight {
        linearWeightGradient(dweight, dout, doutStride: outFeatures, inp, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
    }
    if let dbias {
        for row in 0..<rows {
            let line = dout + row * outFeatures
            for column in 0..<outFeatures { dbias[column] += line[column] }
        }
    }
}
