// linearForwardChunked and the row-range element-wise steps the model runs after each chunk
// (ropeApplyRows, residualRMSNormRows) against the whole-buffer kernels they replace
// (linearForward, ropeApply, addInPlace + rmsNormForward), in Double and Float.
import Kernels
import XCTest

final class ChunkedEpilogueTests: XCTestCase {
    func fill<T: KernelScalar>(_ tensor: Tensor<T>, _ generator: inout SplitMix64, magnitude: Double = 1) {
        for i in 0..<tensor.count { tensor[i] = T((generator.nextUnit() * 2 - 1) * magnitude) }
    }

    /// Every output row equals linearForward's (to the gemm's rounding), and the epilogue sees every
    /// row exactly once, after its product, in chunks of at most chunkRows rows.
    func checkLinear<T: KernelScalar>(_: T.Type, rows: Int, inFeatures: Int, outFeatures: Int, chunkRows: Int, threads: Int, tolerance: Double) {
        KernelThreads.configure(threads: threads)
        defer { KernelThreads.configure(threads: 0) }
        var generator = SplitMix64(seed: UInt64(rows * 7 + chunkRows))
        let input = Tensor<T>(shape: [rows, inFeatures]), weight = Tensor<T>(shape: [outFeatures, inFeatures])
        fill(input, &generator)
        fill(weight, &generator)
        let expected = Tensor<T>(shape: [rows, outFeatures]), actual = Tensor<T>(shape: [rows, outFeatures])
        linearForward(expected.pointer, input.pointer, weight.pointer, nil, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
        for i in 0..<actual.count { actual[i] = .nan }
        // what the epilogue saw: per row, how often, and the row's first output at that time
        let seen = UnsafeMutablePointer<Int>.allocate(capacity: rows), firstOutput = Tensor<T>(shape: [rows])
        seen.initialize(repeating: 0, count: rows)
        defer { seen.deallocate() }
        let counts = SendablePointer(seen), output = SendablePointer(actual.pointer), observed = SendablePointer(firstOutput.pointer)
        let largestChunk = SendablePointer(UnsafeMutablePointer<Int>.allocate(capacity: 1))
        largestChunk.pointer.initialize(to: 0)
        defer { largestChunk.pointer.deallocate() }
        let lock = NSLock()
        linearForwardChunked(actual.pointer, input.pointer, weight.pointer, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures,
                             chunkRows: chunkRows) { range in
            lock.lock()
            largestChunk.pointer.pointee = max(largestChunk.pointer.pointee, range.count)
            lock.unlock()
            for row in range {
                counts.pointer[row] += 1
                observed.pointer[row] = output.pointer[row * outFeatures]
            }
        }
        XCTAssertEqual(actual.shape, expected.shape)
        XCTAssertLessThanOrEqual(largestChunk.pointer.pointee, chunkRows, "chunks of at most \(chunkRows) rows")
        var largest = 0.0
        for row in 0..<rows {
            XCTAssertEqual(seen[row], 1, "\(T.self): the epilogue saw row \(row) \(seen[row]) times")
            XCTAssertFalse(Double(firstOutput[row]).isNaN, "\(T.self): the epilogue ran on row \(row) before its product")
            for column in 0..<outFeatures {
                let e = Double(expected[row * outFeatures + column]), a = Double(actual[row * outFeatures + column])
                XCTAssertEqual(a, e, accuracy: tolerance * (1 + abs(e)), "\(T.self) rows \(rows) chunk \(chunkRows): [\(row), \(column)]")
                largest = max(largest, abs(a - e))
            }
        }
        print("linearForwardChunked \(T.self) rows \(rows) \(inFeatures) -> \(outFeatures), chunks of \(chunkRows), \(threads) threads: largest |diff| \(largest)")
    }

    func testChunkedLinearMatchesLinearForward() {
        // chunk sizes that divide the rows, leave a remainder, exceed them; 1 and 2 workers; a product
        // big enough to be split over the workers (rows * in * out >= 2^20) and a small one
        for (rows, inFeatures, outFeatures, chunkRows) in [(1, 8, 8, 96), (37, 16, 24, 5), (300, 64, 96, 96), (901, 64, 48, 96), (97, 128, 40, 200)] {
            for threads in [1, 2] {
                checkLinear(Double.self, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, chunkRows: chunkRows, threads: threads, tolerance: 1e-12)
                checkLinear(Float.self, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, chunkRows: chunkRows, threads: threads, tolerance: 1e-5)
            }
        }
    }

    func testRoPERowsMatchesRoPEApply() {
        let batch = 3, seq = 11, heads = 2, headDim = 8, dim = heads * headDim
        let table = RotaryTable<Float>(sequenceLength: 30, headDim: headDim)
        var generator = SplitMix64(seed: 5)
        let source = Tensor<Float>(shape: [batch * seq, 3 * dim])
        fill(source, &generator)
        let positions: [Int32] = [0, 29, 3, 4, 17, 5, 6, 7, 28, 9, 10]
        for withPositions in [false, true] {
            for inverse in [false, true] {
                let expected = Tensor<Float>(shape: source.shape), actual = Tensor<Float>(shape: source.shape)
                expected.pointer.update(from: source.pointer, count: source.count)
                actual.pointer.update(from: source.pointer, count: source.count)
                positions.withUnsafeBufferPointer { p in
                    if withPositions {
                        ropeApply(expected.pointer, table: table, positions: p.baseAddress!, inverse: inverse, batch: batch, seq: seq, heads: heads, headDim: headDim)
                    } else {
                        ropeApply(expected.pointer, table: table, inverse: inverse, batch: batch, seq: seq, heads: heads, headDim: headDim)
                    }
                    // uneven row ranges crossing the examples' boundaries
                    for range in [0..<4, 4..<13, 13..<14, 14..<33] {
                        ropeApplyRows(actual.pointer, table: table, positions: withPositions ? p.baseAddress! : nil, inverse: inverse,
                                      rows: range, seq: seq, heads: heads, headDim: headDim)
                    }
                }
                var differing = 0, rotated = 0
                for i in 0..<source.count {
                    if actual[i] != expected[i] { differing += 1 }
                    if actual[i] != source[i] { rotated += 1 }
                }
                XCTAssertEqual(differing, 0, "positions \(withPositions), inverse \(inverse): bit-identical to ropeApply")
                XCTAssertGreaterThan(rotated, source.count / 3, "positions \(withPositions), inverse \(inverse): q and k were rotated")
            }
        }
    }

    func testResidualRMSNormRowsMatchesAddThenNorm() {
        let rows = 29, dim = 24
        var generator = SplitMix64(seed: 9)
        let z = Tensor<Float>(shape: [rows, dim]), residual = Tensor<Float>(shape: [rows, dim])
        fill(z, &generator, magnitude: 3)
        fill(residual, &generator, magnitude: 3)
        let expected = Tensor<Float>(shape: z.shape), expectedRstd = Tensor<Float>(shape: [rows])
        expected.pointer.update(from: z.pointer, count: z.count)
        addInPlace(expected.pointer, residual.pointer, count: z.count)
        rmsNormForward(expected.pointer, expectedRstd.pointer, expected.pointer, rows: rows, dim: dim, epsilon: 1e-5)
        let actual = Tensor<Float>(shape: z.shape), actualRstd = Tensor<Float>(shape: [rows])
        actual.pointer.update(from: z.pointer, count: z.count)
        for i in 0..<rows { actualRstd[i] = .nan }
        for range in [0..<1, 1..<10, 10..<29] {
            residualRMSNormRows(actual.pointer, actualRstd.pointer, residual: residual.pointer, rows: range, dim: dim, epsilon: 1e-5)
        }
        XCTAssertEqual(actual.shape, expected.shape)
        for i in 0..<z.count { XCTAssertEqual(actual[i], expected[i], "element \(i): bit-identical to addInPlace + rmsNormForward") }
        for i in 0..<rows { XCTAssertEqual(actualRstd[i], expectedRstd[i], "rstd of row \(i)") }
        var norm = 0.0
        for j in 0..<dim { norm += Double(actual[j]) * Double(actual[j]) }
        XCTAssertEqual(norm / Double(dim), 1, accuracy: 1e-3, "row 0 has unit mean square after the norm")
    }
}
