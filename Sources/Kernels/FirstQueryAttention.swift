// Attention for the first query row of each example only (docs/SPEC.md §4 attention, the Q head of
// §5): out[b, D] = per head softmax(q_(b,0) k_b^T / sqrt(hd)) v_b, read from the packed, already rotated
// qkv [batch*seq, 3D] (rows q|k|v, heads contiguous). The ACT trainer's Q-continue target step needs
// only zH[:, 0] after the last block (the Q head reads nothing else), so that block runs its attention
// for this one row per example: seq x hd work per head instead of seq^2 x hd. The blocked kernel
// (Attention.swift), whose first output row this equals, is the test oracle.

/// out[b * heads * headDim ..< (b + 1) * heads * headDim] = attention output of row 0 of example b;
/// scores: a scratch of at least seq values.
@inlinable
public func firstQueryAttentionForward<T: KernelScalar>(
    _ out: UnsafeMutablePointer<T>, _ qkv: UnsafePointer<T>, scores: UnsafeMutablePointer<T>,
    batch: Int, seq: Int, heads: Int, headDim: Int
) {
    let dim = heads * headDim, row = 3 * dim
    let scale = 1 / T(headDim).squareRoot()
    for b in 0..<batch {
        for h in 0..<heads {
            let q = qkv + b * seq * row + h * headDim
            var maximum = -T.infinity
            for j in 0..<seq {
                let k = q + j * row + dim
                var s: T = 0
                for d in 0..<headDim { s += q[d] * k[d] }
                s *= scale
                scores[j] = s
                maximum = max(maximum, s)
            }
            let sum = T.exponentialShiftedInPlace(scores, count: seq, shift: maximum)
            let o = out + b * dim + h * headDim
            o.initialize(repeating: 0, count: headDim)
            for j in 0..<seq {
                let v = q + j * row + 2 * dim, p = scores[j]
                for d in 0..<headDim { o[d] += p * v[d] }
            }
            let inverse = 1 / sum
            for d in 0..<headDim { o[d] *= inverse }
        }
    }
}
