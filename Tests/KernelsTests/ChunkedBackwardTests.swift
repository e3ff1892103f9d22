// The row-range pieces of the fp32 block backward (forEachRowChunk, linearInputGradientRows,
// linearWeightGradient with a padded dout stride, swiGLUBackwardRows, rmsNormBackwardRows) against
// the whole-buffer kernels they replace (linearBackward, swiGLUBackward, rmsNormBackward), in Double
// and Float, and the padded stride itself (aliasFreeRowStride).
import Foundation
import Kernels
import XCTest

final class ChunkedBackwardTests: XCTestCase {
    override func tearDown() { KernelThreads.configure(threads: 0) }

    func fill<T: KernelScalar>(_ tensor: Tensor<T>, _ generator: inout SplitMix64, magnitude: Double = 1) {
        for i in 0..<tensor.count { tensor[i] = T((generator.nextUnit() * 2 - 1) * magnitude) }
    }

    func testForEachRowChunkVisitsEveryRowOnceInBoundedChunks() {
        for threads in [1, 2] {
            KernelThreads.configure(threads: threads)
            for (rows, work, chunkRows) in [(0, 1 << 22, 96), (1, 1 << 22, 96), (37, 10, 5), (300, 1 << 22, 96), (901, 1 << 22, 7), (97, 1 << 22, 200)] {
                let seen = UnsafeMutablePointer<Int>.allocate(capacity: max(rows, 1))
                seen.initialize(repeating: 0, count: max(rows, 1))
                defer { seen.deallocate() }
                let counts = SendablePointer(seen)
                let lock = NSLock()
                var largest = 0, calls = 0
                forEachRowChunk(rows: rows, work: work, chunkRows: chunkRows) { chunk in
                    lock.lock()
                    largest = max(largest, chunk.count)
                    calls += 1
                    lock.unlock()
                    XCTAssertFalse(chunk.isEmpty, "no empty chunk")
                    for row in chunk { counts.pointer[row] += 1 }
                }
                for row in 0..<rows { XCTAssertEqual(seen[row], 1, "threads \(threads) rows \(rows) chunk \(chunkRows): row \(row) seen \(seen[row]) times") }
                XCTAssertLessThanOrEqual(largest, chunkRows)
                if rows > 0 { XCTAssertGreaterThanOrEqual(calls, (rows + chunkRows - 1) / chunkRows) }
            }
        }
    }

    func testAliasFreeRowStride() {
        XCTAssertEqual(aliasFreeRowStride(columns: 1024, of: Float.self), 1040, "4 KB rows get 64 bytes more")
        XCTAssertEqual(aliasFreeRowStride(columns: 3072, of: Float.self), 3088, "12 KB rows")
        XCTAssertEqual(aliasFreeRowStride(columns: 512, of: Double.self), 520, "4 KB of Double")
        XCTAssertEqual(aliasFreeRowStride(columns: 512, of: Float.self), 512, "2 KB rows kept")
        XCTAssertEqual(aliasFreeRowStride(columns: 384, of: Float.self), 384)
        XCTAssertEqual(aliasFreeRowStride(columns: 100, of: Float.self), 100)
        XCTAssertEqual(aliasFreeRowStride(columns: 0, of: Float.self), 0)
    }

    /// dinput over uneven row ranges (overwrite and accumulate) and dweight read through a padded dout
    /// stride whose padding holds NaN (never read) equal linearBackward's on the packed dout.
    func checkLinearGradients<T: KernelScalar>(_: T.Type, rows: Int, inFeatures: Int, outFeatures: Int, threads: Int, tolerance: Double) {
        KernelThreads.configure(threads: threads)
        var generator = SplitMix64(seed: UInt64(rows * 31 + outFeatures))
        let stride = outFeatures + 5
        let dout = Tensor<T>(shape: [rows, outFeatures]), padded = Tensor<T>(shape: [rows, stride])
        let input = Tensor<T>(shape: [rows, inFeatures]), weight = Tensor<T>(shape: [outFeatures, inFeatures])
        let startInput = Tensor<T>(shape: [rows, inFeatures]), startWeight = Tensor<T>(shape: [outFeatures, inFeatures])
        for tensor in [dout, input, weight, startInput, startWeight] { fill(tensor, &generator) }
        for i in 0..<padded.count { padded[i] = .nan }
        for row in 0..<rows { (padded.pointer + row * stride).update(from: dout.pointer + row * outFeatures, count: outFeatures) }
        let ranges = [0..<min(3, rows), min(3, rows)..<min(40, rows), min(40, rows)..<rows]
        for accumulate in [false, true] {
            let expectedInput = Tensor<T>(shape: [rows, inFeatures]), expectedWeight = Tensor<T>(shape: [outFeatures, inFeatures])
            expectedInput.pointer.update(from: startInput.pointer, count: startInput.count)
            expectedWeight.pointer.update(from: startWeight.pointer, count: startWeight.count)
            linearBackward(expectedInput.pointer, expectedWeight.pointer, nil, dout.pointer, input.pointer, weight.pointer,
                           rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, accumulateInput: accumulate)
            let actualInput = Tensor<T>(shape: [rows, inFeatures]), actualWeight = Tensor<T>(shape: [outFeatures, inFeatures])
            actualInput.pointer.update(from: startInput.pointer, count: startInput.count)
            actualWeight.pointer.update(from: startWeight.pointer, count: startWeight.count)
            for range in ranges {
                linearInputGradientRows(actualInput.pointer, padded.pointer, doutStride: stride, weight.pointer, rows: range,
                                        inFeatures: inFeatures, outFeatures: outFeatures, accumulate: accumulate)
            }
            linearWeightGradient(actualWeight.pointer, padded.pointer, doutStride: stride, input.pointer, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures)
            XCTAssertEqual(actualInput.shape, expectedInput.shape)
            XCTAssertEqual(actualWeight.shape, expectedWeight.shape)
            var largest = 0.0
            for (name, expected, actual) in [("dinput", expectedInput, actualInput), ("dweight", expectedWeight, actualWeight)] {
                for i in 0..<expected.count {
                    let e = Double(expected[i]), a = Double(actual[i])
                    XCTAssertEqual(a, e, accuracy: tolerance * (1 + abs(e)), "\(T.self) \(name)[\(i)] rows \(rows) accumulate \(accumulate) threads \(threads)")
                    largest = max(largest, abs(a - e))
                }
            }
            print("row gradients \(T.self) rows \(rows) \(inFeatures) -> \(outFeatures), accumulate \(accumulate), \(threads) threads: largest |diff| \(largest)")
        }
    }

    func testRowGradientsMatchLinearBackward() {
        // small, and big enough for linearWeightGradient to split the features over two workers
        for (rows, inFeatures, outFeatures) in [(5, 4, 6), (97, 32, 64), (400, 64, 256)] {
            for threads in [1, 2] {
                checkLinearGradients(Double.self, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, threads: threads, tolerance: 1e-12)
                checkLinearGradients(Float.self, rows: rows, inFeatures: inFeatures, outFeatures: outFeatures, threads: threads, tolerance: 1e-5)
            }
        }
    }

    func testSwiGLUBackwardRowsWithStrideMatchesSwiGLUBackward() {
        let rows = 23, inter = 12, stride = 2 * inter + 3
        var generator = SplitMix64(seed: 11)
        let gateUp = Tensor<Float>(shape: [rows, 2 * inter]), dout = Tensor<Float>(shape: [rows, inter])
        fill(gateUp, &generator, magnitude: 4)
        fill(dout, &generator)
        let expected = Tensor<Float>(shape: [rows, 2 * inter])
        swiGLUBackward(expected.pointer, dout.pointer, gateUp.pointer, rows: rows, inter: inter)
        let actual = Tensor<Float>(shape: [rows, stride])
        for i in 0..<actual.count { actual[i] = -7 }
        for range in [0..<1, 1..<9, 9..<23] {
            swiGLUBackwardRows(actual.pointer, stride: stride, dout.pointer, gateUp.pointer, rows: range, inter: inter)
        }
        var differing = 0, padding = 0
        for row in 0..<rows {
            for column in 0..<(2 * inter) where actual[row * stride + column] != expected[row * 2 * inter + column] { differing += 1 }
            for column in (2 * inter)..<stride where actual[row * stride + column] != -7 { padding += 1 }
        }
        XCTAssertEqual(differing, 0, "bit-identical to swiGLUBackward")
        XCTAssertEqual(padding, 0, "the padding is never written")
    }

    func testRMSNormBackwardRowsMatchesRMSNormBackward() {
        let rows = 29, dim = 24
        var generator = SplitMix64(seed: 13)
        let input = Tensor<Float>(shape: [rows, dim]), output = Tensor<Float>(shape: [rows, dim]), rstd = Tensor<Float>(shape: [rows])
        let dout = Tensor<Float>(shape: [rows, dim])
        fill(input, &generator, magnitude: 3)
        fill(dout, &generator)
        rmsNormForward(output.pointer, rstd.pointer, input.pointer, rows: rows, dim: dim)
        let expected = Tensor<Float>(shape: [rows, dim])
        rmsNormBackward(expected.pointer, dout.pointer, output.pointer, rstd.pointer, rows: rows, dim: dim)
        // in place, as the model runs it
        let actual = Tensor<Float>(shape: [rows, dim])
        actual.pointer.update(from: dout.pointer, count: dout.count)
        for range in [0..<4, 4..<5, 5..<29] {
            rmsNormBackwardRows(actual.pointer, actual.pointer, output.pointer, rstd.pointer, rows: range, dim: dim)
        }
        var differing = 0, changed = 0
        for i in 0..<expected.count {
            if actual[i] != expected[i] { differing += 1 }
            if actual[i] != dout[i] { changed += 1 }
        }
        XCTAssertEqual(differing, 0, "bit-identical to rmsNormBackward")
        XCTAssertGreaterThan(changed, expected.count / 2)
    }
}
