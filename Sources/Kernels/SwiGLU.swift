// SwiGLU activation (docs/SPEC.md §4): [gate | up] = h W_gu^T; act = silu(gate) * up. The projections are
// linear kernels; this file is the elementwise middle. inter = round_up_to_256(round(expansion*D*2/3)).
#if canImport(Glibc)
import Glibc
#endif

/// The SwiGLU hidden width of the reference: round(expansion * dim * 2 / 3) rounded up to a multiple of 256.
public func swiGLUIntermediateSize(dim: Int, expansion: Double) -> Int {
    let raw = Int((expansion * Double(dim) * 2 / 3).rounded(.toNearestOrEven))
    return (raw + 255) / 256 * 256
}

/// out[rows, inter] = silu(gateUp[:, :inter]) * gateUp[:, inter:]
@inlinable
public func swiGLUForward<T: KernelScalar>(
    _ out: UnsafeMutablePointer<T>, _ gateUp: UnsafePointer<T>, rows: Int, inter: Int
) {
    let o = SendablePointer(out), i = SendablePointer(UnsafeMutablePointer(mutating: gateUp))
    parallelChunks(rows, costPerItem: inter * 4) { range in
        for row in range {
            let gate = i.pointer + row * 2 * inter
            let up = gate + inter
            let y = o.pointer + row * inter
            T.siluProductInPlace(y, gate, up, count: inter)
        }
    }
}

/// dgateUp[rows, 2*inter] (overwritten) from dout[rows, inter] and the saved gateUp.
@inlinable
public func swiGLUBackward<T: KernelScalar>(
    _ dgateUp: UnsafeMutablePointer<T>, _ dout: UnsafePointer<T>, _ gateUp: UnsafePointer<T>, rows: Int, inter: Int
) {
    let d = SendablePointer(dgateUp), dO = SendablePointer(UnsafeMutablePointer(mutating: dout))
    let i = SendablePointer(UnsafeMutablePointer(mutating: gateUp))
    parallelChunks(rows, costPerItem: inter * 4) { range in
        swiGLUBackwardRows(d.pointer, stride: 2 * inter, dO.pointer, i.pointer, rows: range, inter: inter)
    }
}

/// swiGLUBackward for the rows `rows` only, on the calling thread, with dgateUp's rows `stride`
/// elements apart (>= 2 * inter; the saved gateUp and dout are packed).
@inlinable
public func swiGLUBackwardRows<T: KernelScalar>(
    _ dgateUp: UnsafeMutablePointer<T>, stride: Int, _ dout: UnsafePointer<T>, _ gateUp: UnsafePointer<T>, rows: Range<Int>, inter: Int
) {
    for row in rows {
        let gate = gateUp + row * 2 * inter
        let up = gate + inter
        let dy = dout + row * inter
        let dGate = dgateUp + row * stride
        let dUp = dGate + inter
        T.siluProductBackward(dGate, dUp, dy, gate, up, count: inter)
    }
}
