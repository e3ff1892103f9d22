// RMSNorm without a learned weight (docs/SPEC.md §4): y = x / sqrt(mean(x^2) + eps), eps 1e-5, computed
// in the kernel's scalar type (fp32 in production). Forward saves the per-row reciprocal rms; backward
// needs only the output y and that value: dx = r * (dy - y * mean(dy * y)).

public let rmsNormEpsilon = 1e-5

/// out[rows, dim] = rms_norm(inp); rstd[rows] saved for backward. out may equal inp.
@inlinable
public func rmsNormForward<T: KernelScalar>(
    _ out: UnsafeMutablePointer<T>, _ rstd: UnsafeMutablePointer<T>,
    _ inp: UnsafePointer<T>, rows: Int, dim: Int, epsilon: T = T(rmsNormEpsilon)
) {
    let o = SendablePointer(out), r = SendablePointer(rstd), i = SendablePointer(UnsafeMutablePointer(mutating: inp))
    parallelChunks(rows, costPerItem: dim) { range in
        for row in range {
            let x = i.pointer + row * dim
            let y = o.pointer + row * dim
            let sum = T.dot(x, x, count: dim)
            let reciprocal = 1 / (sum / T(dim) + epsilon).squareRoot()
            r.pointer[row] = reciprocal
            for j in 0..<dim { y[j] = x[j] * reciprocal }
        }
    }
}

/// z = rms_norm(z + residual) on rows `rows` of z [*, dim] on the calling thread, rstd[row] saved (the
/// epilogue of a chunked projection: the residual add and the norm in one pass over cached rows).
/// The same arithmetic per row as addInPlace followed by rmsNormForward.
@inlinable
public func residualRMSNormRows<T: KernelScalar>(
    _ z: UnsafeMutablePointer<T>, _ rstd: UnsafeMutablePointer<T>, residual: UnsafePointer<T>,
    rows: Range<Int>, dim: Int, epsilon: T
) {
    for row in rows {
        let x = z + row * dim, r = residual + row * dim
        for j in 0..<dim { x[j] += r[j] }
        let sum = T.dot(x, x, count: dim)
        let reciprocal = 1 / (sum / T(dim) + epsilon).squareRoot()
        rstd[row] = reciprocal
        for j in 0..<dim { x[j] = x[j] * reciprocal }
    }
}

/// dinp = rms_norm backward, from the forward's output and rstd. dinp may equal dout.
@inlinable
public func rmsNormBackward<T: KernelScalar>(
    _ dinp: UnsafeMutablePointer<T>,
    _ dout: UnsafePointer<T>, _ out: UnsafePointer<T>, _ rstd: UnsafePointer<T>, rows: Int, dim: Int
) {
    let di = SendablePointer(dinp), dO = SendablePointer(UnsafeMutablePointer(mutating: dout))
    let o = SendablePointer(UnsafeMutablePointer(mutating: out)), r = SendablePointer(UnsafeMutablePointer(mutating: rstd))
    parallelChunks(rows, costPerItem: dim) { range in
        rmsNormBackwardRows(di.pointer, dO.pointer, o.pointer, r.pointer, rows: range, dim: dim)
    }
}

/// rmsNormBackward for the rows `rows` only, on the calling thread (one chunk of a chunked backward).
@inlinable
public func rmsNormBackwardRows<T: KernelScalar>(
    _ dinp: UnsafeMutablePointer<T>,
    _ dout: UnsafePointer<T>, _ out: UnsafePointer<T>, _ rstd: UnsafePointer<T>, rows: Range<Int>, dim: Int
) {
    for row in rows {
        let dy = dout + row * dim
        let y = out + row * dim
        let dx = dinp + row * dim
        let mean = T.dot(dy, y, count: dim) / T(dim)
        let reciprocal = rstd[row]
        for j in 0..<dim { dx[j] = reciprocal * (dy[j] - y[j] * mean) }
    }
}
