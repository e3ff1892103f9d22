// RoPE with an explicit position per row (the rows of a grid cropped from a larger canvas keep their
// canvas positions): equals the contiguous entry point bit for bit at positions 0..<seq, equals the
// rotation by the formula at arbitrary positions, the inverse undoes the forward, and the inverse is
// the backward (finite differences in Double).
import Foundation
import Kernels
import TestHelpers
import XCTest

final class RoPEPositionsTests: XCTestCase {
    override func setUp() { KernelThreads.configure(threads: 2) }

    let batch = 2, heads = 2, headDim = 6
    var dim: Int { heads * headDim }

    func testContiguousPositionsGiveTheContiguousPathBitForBit() {
        var g = SplitMix64(seed: 21)
        let seq = 7
        let table = RotaryTable<Float>(sequenceLength: 11, headDim: headDim)
        let source = Tensor<Float>(shape: [batch * seq, 3 * dim])
        for i in 0..<source.count { source[i] = Float(g.nextUnit() * 2 - 1) }
        let positions = (0..<seq).map { Int32($0) }
        for inverse in [false, true] {
            let contiguous = Tensor<Float>(shape: source.shape), explicit = Tensor<Float>(shape: source.shape)
            contiguous.copy(from: source); explicit.copy(from: source)
            ropeApply(contiguous.pointer, table: table, inverse: inverse, batch: batch, seq: seq, heads: heads, headDim: headDim)
            positions.withUnsafeBufferPointer {
                ropeApply(explicit.pointer, table: table, positions: $0.baseAddress!, inverse: inverse, batch: batch, seq: seq, heads: heads, headDim: headDim)
            }
            XCTAssertEqual(explicit.array, contiguous.array, "inverse \(inverse)")
            XCTAssertNotEqual(explicit.array, source.array, "the rotation changed something")
        }
    }

    /// Cropped-canvas positions (P = 1, the top-left 2x2 of a 3x3 canvas): 0, 1, 2, 4, 5.
    let cropPositions: [Int32] = [0, 1, 2, 4, 5]

    func testExplicitPositionsRotateByThoseAngles() {
        var g = SplitMix64(seed: 22)
        let seq = cropPositions.count
        let table = RotaryTable<Double>(sequenceLength: 10, headDim: headDim)
        let x = randomTensor([batch * seq, 3 * dim], &g)
        let y = Tensor<Double>(shape: x.shape)
        y.copy(from: x)
        cropPositions.withUnsafeBufferPointer {
            ropeApply(y.pointer, table: table, positions: $0.baseAddress!, inverse: false, batch: batch, seq: seq, heads: heads, headDim: headDim)
        }
        let half = headDim / 2
        var largest = 0.0
        for row in 0..<(batch * seq) {
            let position = Double(cropPositions[row % seq])
            for part in 0..<3 {
                for head in 0..<heads {
                    let base = row * 3 * dim + part * dim + head * headDim
                    for i in 0..<half {
                        let x1 = x[base + i], x2 = x[base + i + half]
                        let angle = position * pow(10000, -Double(2 * i) / Double(headDim))
                        // v (part 2) is not rotated.
                        let e1 = part == 2 ? x1 : x1 * cos(angle) - x2 * sin(angle)
                        let e2 = part == 2 ? x2 : x2 * cos(angle) + x1 * sin(angle)
                        largest = max(largest, abs(y[base + i] - e1), abs(y[base + i + half] - e2))
                    }
                }
            }
        }
        print("rope at explicit positions vs formula: largest |diff| = \(largest)")
        XCTAssertLessThan(largest, 1e-14)
    }

    func testInverseUndoesForwardAndIsTheBackward() {
        var g = SplitMix64(seed: 23)
        let seq = cropPositions.count
        let table = RotaryTable<Double>(sequenceLength: 10, headDim: headDim)
        let x = randomTensor([batch * seq, 3 * dim], &g), r = randomTensor([batch * seq, 3 * dim], &g)
        let work = Tensor<Double>(shape: x.shape)
        func apply(_ tensor: Tensor<Double>, inverse: Bool) {
            cropPositions.withUnsafeBufferPointer {
                ropeApply(tensor.pointer, table: table, positions: $0.baseAddress!, inverse: inverse, batch: batch, seq: seq, heads: heads, headDim: headDim)
            }
        }
        work.copy(from: x)
        apply(work, inverse: false)
        apply(work, inverse: true)
        var largest = 0.0
        for i in 0..<x.count { largest = max(largest, abs(work[i] - x[i])) }
        print("rope inverse(forward(x)) - x: largest |diff| = \(largest)")
        XCTAssertLessThan(largest, 1e-14)

        func loss() -> Double {
            work.copy(from: x)
            apply(work, inverse: false)
            return dot(work, r)
        }
        let dx = Tensor<Double>(shape: x.shape)
        dx.copy(from: r)
        apply(dx, inverse: true)
        finiteDifferenceCheck("rope(positions).dinput", parameter: x.pointer, count: x.count, analytic: dx.array, loss: loss)
    }
}
