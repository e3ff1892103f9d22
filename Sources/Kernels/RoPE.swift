// Rotary position embedding (docs/SPEC.md §4): theta 10000, inv_f[i] = theta^(-2i/hd) for i < hd/2,
// angle = position * inv_f duplicated to hd, "rotate_half": x*cos + [-x2, x1]*sin. Applied in place
// to the q and k parts of a packed qkv buffer [rows = batch*seq, 3*D] (rows q|k|v, heads contiguous).

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
@inlinable
public func ropeApply<T: KernelScalar>(
    _ qkv: UnsafeMutablePointer<T>, table: RotaryTable<T>, inverse: Bool,
    batch: Int, seq: Int, heads: Int, headDim: Int
) {
    let dim = heads * headDim
    let half = headDim / 2
    let rows = batch * seq
    let p = SendablePointer(qkv)
    let cosine = SendablePointer(table.cosine.pointer), sine = SendablePointer(table.sine.pointer)
    parallelChunks(rows, costPerItem: 2 * dim) { range in
        for row in range {
            let position = row % seq
            let c = cosine.pointer + position * headDim
            let s = sine.pointer + position * headDim
            for part in 0..<2 {  // q then k
                for head in 0..<heads {
                    let x = p.pointer + row * 3 * dim + part * dim + head * headDim
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
    }
}
