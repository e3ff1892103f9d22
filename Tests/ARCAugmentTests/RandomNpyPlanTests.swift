// Seeded RNG properties, .npy reading/writing against numpy, and augmentation plans with
// content-hash dedupe (docs/SPEC.md §3).
import ARCAugment
import ARCCore
import XCTest

final class SeededRandomTests: XCTestCase {
    func testStreamsAreDeterministicAndDistinct() {
        var a = Xoshiro256StarStar(seed: 42, stream: 7), b = Xoshiro256StarStar(seed: 42, stream: 7)
        var c = Xoshiro256StarStar(seed: 42, stream: 8), d = Xoshiro256StarStar(seed: 43, stream: 7)
        let sa = (0..<64).map { _ in a.next() }
        XCTAssertEqual(sa, (0..<64).map { _ in b.next() })
        XCTAssertNotEqual(sa, (0..<64).map { _ in c.next() })
        XCTAssertNotEqual(sa, (0..<64).map { _ in d.next() })
        // SplitMix64 reference value (seed 0, first output) from the published algorithm.
        var s = SplitMix64(seed: 0)
        XCTAssertEqual(s.next(), 0xE220_A839_7B1D_CDAF)
    }

    func testBoundedIntegersAreInRangeAndRoughlyUniform() {
        var rng = Xoshiro256StarStar(seed: 9)
        var counts = [Int](repeating: 0, count: 9)
        let draws = 90_000
        for _ in 0..<draws {
            let v = rng.nextInt(below: 9)
            XCTAssertTrue((0..<9).contains(v))
            counts[v] += 1
        }
        // Chi-square with 8 degrees of freedom: 26.1 is the 0.999 quantile.
        let expected = Double(draws) / 9
        let chi2 = counts.reduce(0.0) { $0 + pow(Double($1) - expected, 2) / expected }
        XCTAssertLessThan(chi2, 26.1, "counts \(counts)")
        for _ in 0..<1000 { XCTAssertTrue((3...5).contains(rng.nextInt(in: 3...5))) }
        var values = Array(0..<50)
        values.fisherYatesShuffle(using: &rng)
        XCTAssertEqual(values.sorted(), Array(0..<50))
        XCTAssertNotEqual(values, Array(0..<50))
    }
}

final class NpyFileTests: XCTestCase {
    func testOurFilesLoadInNumpyAndNumpyFilesLoadHere() throws {
        let dir = try TestSupport.temporaryDirectory("npy")
        defer { try? FileManager.default.removeItem(at: dir) }
        let u8 = dir.appendingPathComponent("u8.npy"), i32 = dir.appendingPathComponent("i32.npy")
        try NpyFile.write(uint8: (0..<24).map { UInt8($0 * 10) }, shape: [4, 6], to: u8)
        try NpyFile.write(int32: [0, -5, 70000, Int32.max], shape: [4], to: i32)
        let streamed = dir.appendingPathComponent("streamed.npy")
        let writer = try NpyWriter(url: streamed, dtype: .uint8, rowShape: [3])
        for k in 0..<1000 { try writer.append(uint8: [UInt8(k % 256), 1, 2]) }
        try writer.finish()
        let script = """
        import sys, numpy as np
        d = sys.argv[1]
        a = np.load(d + '/u8.npy'); b = np.load(d + '/i32.npy'); c = np.load(d + '/streamed.npy', mmap_mode='r')
        assert a.dtype == np.uint8 and a.shape == (4, 6) and a[3, 5] == 230, (a.dtype, a.shape)
        assert b.dtype == np.int32 and b.tolist() == [0, -5, 70000, 2**31 - 1], b
        assert c.dtype == np.uint8 and c.shape == (1000, 3) and c[999].tolist() == [999 % 256, 1, 2]
        np.save(d + '/np_i64.npy', np.arange(5, dtype=np.int64) * 3)
        np.save(d + '/np_u8.npy', np.arange(12, dtype=np.uint8).reshape(3, 4))
        np.save(d + '/np_i32.npy', np.array([7, 8], dtype=np.int32))
        print('ok')
        """
        XCTAssertEqual(try TestSupport.python(script, [dir.path]), "ok\n")
        XCTAssertEqual(try NpyFile(contentsOf: dir.appendingPathComponent("np_i64.npy")).int32Values(), [0, 3, 6, 9, 12])
        let npU8 = try NpyFile(contentsOf: dir.appendingPathComponent("np_u8.npy"))
        XCTAssertEqual(npU8.shape, [3, 4])
        XCTAssertEqual(Array(npU8.uint8Row(2)), [8, 9, 10, 11])
        XCTAssertEqual(try NpyFile(contentsOf: dir.appendingPathComponent("np_i32.npy")).int32Values(), [7, 8])
        let ours = try NpyFile(contentsOf: streamed)
        XCTAssertEqual(ours.shape, [1000, 3])
        XCTAssertEqual(ours.dataOffset % 64, 0)
        XCTAssertEqual(Array(ours.uint8Row(257)), [1, 1, 2])
    }

    func testBadFilesAreRejectedWithTheirName() throws {
        let dir = try TestSupport.temporaryDirectory("npybad")
        defer { try? FileManager.default.removeItem(at: dir) }
        let bad = dir.appendingPathComponent("bad.npy")
        try Data("not numpy at all".utf8).write(to: bad)
        XCTAssertThrowsError(try NpyFile(contentsOf: bad)) { XCTAssertTrue("\($0)".contains("bad.npy")) }
        let truncated = dir.appendingPathComponent("short.npy")
        try Data(NpyHeader(dtype: .int32, shape: [10]).encoded() + [1, 2, 3]).write(to: truncated)
        XCTAssertThrowsError(try NpyFile(contentsOf: truncated)) { XCTAssertTrue("\($0)".contains("truncated")) }
    }
}

final class AugmentationPlanTests: XCTestCase {
    func pair(_ input: [[Int]], _ output: [[Int]]) -> Pair {
        Pair(input: try! Grid(validating: input), output: try! Grid(validating: output))
    }

    func testAsymmetricManyColourTaskGetsAllDraws() {
        var rng = Xoshiro256StarStar(seed: 20)
        let pairs = [Pair(input: TestSupport.randomGrid(rows: 5, cols: 7, using: &rng), output: TestSupport.randomGrid(rows: 3, cols: 2, using: &rng))]
        var planRNG = Xoshiro256StarStar(seed: 21)
        let group = AugmentationPlanner.draw(pairs: pairs, count: 100, using: &planRNG)
        XCTAssertEqual(group.count, 101)
        XCTAssertEqual(group[0], .identity)
        // Every kept puzzle has distinct content, different from the original.
        let contents = Set(group.map { aug in ContentHash.puzzle(pairs.map { Pair(input: aug.apply(to: $0.input), output: aug.apply(to: $0.output!)) }) })
        XCTAssertEqual(contents.count, 101)
    }

    func testFewColourTaskIsDeduped() {
        // One non-zero colour on a symmetric square: only the 9 colour choices differ, whatever
        // the dihedral transform, so at most 8 augmentations exist besides the original.
        let pairs = [pair([[1, 1, 1], [1, 1, 1], [1, 1, 1]], [[1]])]
        var rng = Xoshiro256StarStar(seed: 22)
        let group = AugmentationPlanner.draw(pairs: pairs, count: 50, using: &rng)
        XCTAssertEqual(group.count, 9, "8 distinct recolourings + the original")
        XCTAssertEqual(Set(group.map { $0.colours.map[1] }).count, 9)
    }

    func testSymmetricTaskIsDeduped() {
        // Two colours and full D4 symmetry: the dihedral part never changes the content, so at
        // most 9 * 8 colour assignments of {1, 2} exist (71 augmentations besides the original).
        let pairs = [pair([[1, 2, 1], [2, 1, 2], [1, 2, 1]], [[2, 1, 2], [1, 0, 1], [2, 1, 2]])]
        var rng = Xoshiro256StarStar(seed: 23)
        let group = AugmentationPlanner.draw(pairs: pairs, count: 200, using: &rng)
        XCTAssertLessThan(group.count, 201)
        XCTAssertEqual(group.count, 72)
        // Fewer draws than distinct contents: stops at count.
        var rng2 = Xoshiro256StarStar(seed: 24)
        XCTAssertEqual(AugmentationPlanner.draw(pairs: pairs, count: 10, using: &rng2).count, 11)
        // Order of pairs does not matter for the content hash.
        let p2 = pair([[3]], [[4, 4]])
        XCTAssertEqual(ContentHash.puzzle(pairs + [p2]), ContentHash.puzzle([p2] + pairs))
        XCTAssertNotEqual(ContentHash.puzzle(pairs), ContentHash.puzzle(pairs + [p2]))
    }

    func testZeroAugmentationsKeepsTheOriginalOnly() {
        var rng = Xoshiro256StarStar(seed: 25)
        XCTAssertEqual(AugmentationPlanner.draw(pairs: [pair([[1]], [[2]])], count: 0, using: &rng), [.identity])
    }
}
