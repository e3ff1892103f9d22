// firstQueryAttentionForward (the Q-continue target's last block) against the blocked attention
// kernel's first output row of every example (the oracle of the flash kernel), in Double and Float.
import Kernels
import XCTest

final class FirstQueryAttentionTests: XCTestCase {
    func check<T: KernelScalar>(_: T.Type, batch: Int, seq: Int, heads: Int, headDim: Int, magnitude: Double, tolerance: Double) {
        let dim = heads * headDim, rows = batch * seq
        var generator = SplitMix64(seed: UInt64(seq * 31 + headDim))
        let qkv = Tensor<T>(shape: [rows, 3 * dim])
        for i in 0..<qkv.count { qkv[i] = T((generator.nextUnit() * 2 - 1) * magnitude) }
        let full = Tensor<T>(shape: [rows, dim])
        blockedAttentionForward(full.pointer, qkv.pointer, scratch: BlockedAttentionScratch<T>(seq: seq), batch: batch, seq: seq, heads: heads, headDim: headDim)
        let first = Tensor<T>(shape: [batch, dim]), scores = Tensor<T>(shape: [seq])
        for i in 0..<first.count { first[i] = .nan }
        firstQueryAttentionForward(first.pointer, qkv.pointer, scores: scores.pointer, batch: batch, seq: seq, heads: heads, headDim: headDim)
        XCTAssertEqual(first.count, batch * dim)
        var largest = 0.0
        for b in 0..<batch {
            for d in 0..<dim {
                let expected = Double(full[b * seq * dim + d]), actual = Double(first[b * dim + d])
                XCTAssertEqual(actual, expected, accuracy: tolerance * (1 + abs(expected)), "\(T.self) B \(batch) S \(seq) \(heads) x \(headDim): example \(b), column \(d)")
                largest = max(largest, abs(actual - expected))
            }
        }
        print("first-query attention \(T.self), B \(batch) S \(seq) \(heads) x \(headDim): largest |diff| \(largest)")
    }

    func testMatchesTheFirstRowOfTheFullAttention() {
        for (batch, seq, heads, headDim, magnitude) in [(1, 1, 1, 8, 1.0), (3, 37, 2, 16, 1.0), (2, 145, 4, 32, 3.0), (2, 901, 4, 32, 1.0)] {
            check(Double.self, batch: batch, seq: seq, heads: heads, headDim: headDim, magnitude: magnitude, tolerance: 1e-12)
            check(Float.self, batch: batch, seq: seq, heads: heads, headDim: headDim, magnitude: magnitude, tolerance: 2e-6)
        }
    }
}
