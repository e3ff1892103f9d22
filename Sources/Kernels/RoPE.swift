// Rotary position embedding (docs/SPEC.md §4): theta 10000, inv_f[i] = theta^(-2i/hd) for i < hd/2,
// angle = position * inv_f duplicated to hd, "rotate_half": x*cos + [-x2, x1]*sin. Applied in place
// to the q and k parts of a packed qkv buffer [rows = batch*seq, 3*D] (rows q|k|v, heads contiguous).
// Positions are 0 ..< seq per slot, or given explicitly per row (a grid cropped from a larger canvas
// keeps its canvas positions).

/// cos/sin tables [seq, headDim], computed in Double then rounded.
public struct RotaryTable<T: KernelScalar>: @unchecked Sendable {
    public let cosine: Tensor<T>
    public let sine: Tensor<T>
    public let sequenceLength: Int
    public let headDim: Int

    public init(sequenceLength: Int, headDim: Int, theta: Double = 10000) {
        self.sequenceLength = sequenceLength
        self.headDim = headDim
        cosine = Tensor(shape: [sequenceLength, headDim])
        sine = Tensor(shape: [sequenceLength, headDim])
        let half = headDim / 2
        for position in 0..<sequenceLength {
            for i in 0..<half {
                // The reference computes inv_freq in fp32 then the angle in fp32; we use Double.
                let inverseFrequency = 1.0 / pow(theta, Double(2 * i) / Double(headDim))
                let angle = Double(position) * inverseFrequency
                let c = T(cos(angle)), s = T(sin(angle))
                cosine[position * headDim + i] = c
                cosine[position * headDim + i + half] = c
                sine[position * headDim + i] = s
                sine[position * headDim + i + half] = s
            }
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif

/// Rotates q and k of qkv[batch*seq, 3*heads*headDim] in place (inverse = false), or applies the
/// transpose rotation (inverse = true), which is the backward of the forward rotation.
/// Row r of each slot has position r (positions 0 ..< seq).
@inlinable
public func ropeApply<T: KernelScalar>(
    _ qkv: UnsafeMutablePointer<T>, table: RotaryTable<T>, inverse: Bool,
    batch: Int, seq: Int, heads: Int, headDim: Int
) {
    precondition(seq <= table.sequenceLength, "ropeApply: seq \(seq) exceeds the table's \(table.sequenceLength) positions")
    let p = SendablePointer(qkv)
    parallelChunks(batch * seq, costPerItem: 2 * heads * headDim) { range in
        ropeApplyRows(p.pointer, table: table, positions: nil, inverse: inverse, rows: range, seq: seq, heads: heads, headDim: headDim)
    }
}

/// As ropeApply, but row r of each slot has the position positions[r] (an index into the table;
/// positions has seq entries, each in 0 ..< table.sequenceLength). Used for a side-s crop of a
/// W x W canvas, whose tokens keep their canvas positions. Same arithmetic as the contiguous
/// entry point, so positions 0 ..< seq give bit-identical results.
@inlinable
public func ropeApply<T: KernelScalar>(
    _ qkv: UnsafeMutablePointer<T>, table: RotaryTable<T>, positions: UnsafePointer<Int32>, inverse: Bool,
    batch: Int, seq: Int, heads: Int, headDim: Int
) {
    for r in 0..<seq {
        precondition(positions[r] >= 0 && Int(positions[r]) < table.sequenceLength,
                     "ropeApply: position \(positions[r]) at row \(r) outside 0..<\(table.sequenceLength)")
    }
    let p = SendablePointer(qkv)
    let indices = SendablePointer(UnsafeMutablePointer(mutating: positions))
    parallelChunks(batch * seq, costPerItem: 2 * heads * headDim) { range in
        ropeApplyRows(p.pointer, table: table, positions: UnsafePointer(indices.pointer), inverse: inverse, rows: range, seq: seq, heads: heads, headDim: headDim)
    }
}

/// RoPE on rows `rows` of qkv[batch*seq, 3*heads*headDim] on the calling thread (ropeApply's body per
/// chunk, and the epilogue of a chunked qkv projection): row r has position positions[r % seq], or
/// r % seq without positions. Positions must be in 0 ..< table.sequenceLength (ropeApply checks
/// them; here the caller has).
@inlinable
public func ropeApplyRows<T: KernelScalar>(
    _ qkv: UnsafeMutablePointer<T>, table: RotaryTable<T>, positions: UnsafePointer<Int32>?, inverse: Bool,
    rows: Range<Int>, seq: Int, heads: Int, headDim: Int
) {
    let dim = heads * headDim
    for row in rows {
        let position = positions.map { Int($0[row % seq]) } ?? row % seq
        ropeRotateRow(qkv + row * 3 * dim, cosine: table.cosine.pointer + position * headDim, sine: table.sine.pointer + position * headDim,
                      inverse: inverse, heads: heads, headDim: headDim)
    }
}

/// Rotates the q and k heads of one packed qkv row with one position's cos/sin rows.
@inlinable @inline(__always)
public func ropeRotateRow<T: KernelScalar>(
    _ row: UnsafeMutablePointer<T>, cosine c: UnsafePointer<T>, sine s: UnsafePointer<T>, inverse: Bool, heads: Int, headDim: Int
) {
    let dim = heads * headDim
    let half = headDim / 2
    for part in 0..<2 {  // q then k
        for head in 0..<heads {
            let x = row + part * dim + head * headDim
            for i in 0..<half {
                let x1 = x[i], x2 = x[i + half]
                if inverse {
                    // d x1 = d1*cos + d2*sin ; d x2 = d2*cos - d1*sin
                    x[i] = x1 * c[i] + x2 * s[i + half]
                    x[i + half] = x2 * c[i + half] - x1 * s[i]
                } else {
                    x[i] = x1 * c[i] - x2 * s[i]
                    x[i + half] = x2 * c[i + half] + x1 * s[i + half]
                }
            }
        }
    }
}
