// The group sampler: full batches, one puzzle per group visit, determinism, exact resume.
import Training
import XCTest

final class GroupSamplerTests: XCTestCase {
    // 3 groups: group 0 = puzzles 0,1 (3 and 2 examples); group 1 = puzzle 2 (4 examples);
    // group 2 = puzzles 3,4,5 (1, 2, 5 examples).
    let puzzleIndices = [0, 3, 5, 9, 10, 12, 17]
    let groupIndices = [0, 2, 3, 6]

    func testBatchesAreFullAndDrawnFromOnePuzzlePerGroupVisit() {
        var s = GroupSampler(puzzleIndices: puzzleIndices, groupIndices: groupIndices, batchSize: 4, seed: 7)
        for _ in 0..<50 {
            let b = s.next()
            XCTAssertEqual(b.examples.count, 4)
            XCTAssertEqual(b.puzzles.count, 4)
            for (e, p) in zip(b.examples, b.puzzles) {
                XCTAssertTrue(puzzleIndices[p] <= e && e < puzzleIndices[p + 1], "example \(e) belongs to puzzle \(p)")
            }
            XCTAssertEqual(Set(b.examples).count, 4, "no example twice in one batch from one puzzle visit")
        }
        XCTAssertGreaterThan(s.state.epoch, 5, "epochs advance, dropping the last incomplete batch")
    }

    func testSameSeedSameStreamOtherSeedDiffers() {
        var a = GroupSampler(puzzleIndices: puzzleIndices, groupIndices: groupIndices, batchSize: 3, seed: 1)
        var b = GroupSampler(puzzleIndices: puzzleIndices, groupIndices: groupIndices, batchSize: 3, seed: 1)
        var c = GroupSampler(puzzleIndices: puzzleIndices, groupIndices: groupIndices, batchSize: 3, seed: 2)
        let sa = (0..<20).map { _ in a.next() }, sb = (0..<20).map { _ in b.next() }, sc = (0..<20).map { _ in c.next() }
        XCTAssertEqual(sa, sb)
        XCTAssertNotEqual(sa, sc)
    }

    func testRestoreContinuesExactly() {
        var a = GroupSampler(puzzleIndices: puzzleIndices, groupIndices: groupIndices, batchSize: 3, seed: 9)
        for _ in 0..<7 { _ = a.next() }
        let saved = a.state
        let rest = (0..<10).map { _ in a.next() }
        var b = GroupSampler(puzzleIndices: puzzleIndices, groupIndices: groupIndices, batchSize: 3, seed: 9)
        b.restore(saved)
        XCTAssertEqual((0..<10).map { _ in b.next() }, rest)
    }
}
