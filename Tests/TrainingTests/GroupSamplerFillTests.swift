// The group sampler on datasets whose one epoch (one puzzle per group) holds fewer examples than
// a batch: like the reference's `_iter_train`, whose group order concatenates the permutations of
// several epochs, it keeps drawing groups until the batch is full; deterministic and resumable.
import Training
import XCTest

final class GroupSamplerFillTests: XCTestCase {
    // 3 groups: group 0 = puzzles 0,1 (3 and 2 examples); group 1 = puzzle 2 (4 examples);
    // group 2 = puzzles 3,4,5 (1, 2, 5 examples). One epoch draws 4...12 examples.
    let puzzleIndices = [0, 3, 5, 9, 10, 12, 17]
    let groupIndices = [0, 2, 3, 6]

    func testBatchLargerThanOneEpochIsFilled() {
        for batchSize in [13, 16, 40, 100] {
            var sampler = GroupSampler(puzzleIndices: puzzleIndices, groupIndices: groupIndices, batchSize: batchSize, seed: 3)
            XCTAssertGreaterThan(sampler.epochsPerPass, 1, "batch \(batchSize)")
            for _ in 0..<20 {
                let batch = sampler.next()
                XCTAssertEqual(batch.examples.count, batchSize)
                XCTAssertEqual(batch.puzzles.count, batchSize)
                for (example, puzzle) in zip(batch.examples, batch.puzzles) {
                    XCTAssertTrue(puzzleIndices[puzzle] <= example && example < puzzleIndices[puzzle + 1], "example \(example) belongs to puzzle \(puzzle)")
                }
            }
        }
    }

    func testEpochsPerPassIsTheFewestThatAlwaysFillABatch() {
        // The fewest examples one epoch can draw: 2 (group 0) + 4 (group 1) + 1 (group 2) = 7.
        func passes(_ batchSize: Int) -> Int {
            GroupSampler(puzzleIndices: puzzleIndices, groupIndices: groupIndices, batchSize: batchSize, seed: 1).epochsPerPass
        }
        XCTAssertEqual(passes(1), 1)
        XCTAssertEqual(passes(7), 1)
        XCTAssertEqual(passes(8), 2)
        XCTAssertEqual(passes(14), 2)
        XCTAssertEqual(passes(15), 3)
        var sampler = GroupSampler(puzzleIndices: puzzleIndices, groupIndices: groupIndices, batchSize: 15, seed: 1)
        XCTAssertEqual(sampler.state.groupOrder.count, 9, "three epochs' permutations")
        for epoch in 0..<3 {
            XCTAssertEqual(Set(sampler.state.groupOrder[(epoch * 3)..<(epoch * 3 + 3)]), [0, 1, 2], "each epoch visits every group once")
        }
        let first = sampler.next()
        XCTAssertEqual(first.epoch, 0)
        _ = (0..<10).map { _ in sampler.next() }
        XCTAssertGreaterThan(sampler.state.epoch, 0, "passes advance by whole epochs")
        XCTAssertEqual(sampler.state.epoch % 3, 0)
    }

    func testSmallDataDeterministicAndResumable() {
        var a = GroupSampler(puzzleIndices: puzzleIndices, groupIndices: groupIndices, batchSize: 16, seed: 9)
        var b = GroupSampler(puzzleIndices: puzzleIndices, groupIndices: groupIndices, batchSize: 16, seed: 9)
        var c = GroupSampler(puzzleIndices: puzzleIndices, groupIndices: groupIndices, batchSize: 16, seed: 10)
        let streamA = (0..<12).map { _ in a.next() }
        XCTAssertEqual(streamA, (0..<12).map { _ in b.next() })
        XCTAssertNotEqual(streamA, (0..<12).map { _ in c.next() })

        var d = GroupSampler(puzzleIndices: puzzleIndices, groupIndices: groupIndices, batchSize: 16, seed: 9)
        for _ in 0..<5 { _ = d.next() }
        let saved = d.state
        let rest = (0..<7).map { _ in d.next() }
        var e = GroupSampler(puzzleIndices: puzzleIndices, groupIndices: groupIndices, batchSize: 16, seed: 9)
        e.restore(saved)
        XCTAssertEqual((0..<7).map { _ in e.next() }, rest)
        XCTAssertEqual(Array(streamA[5...]), rest)
    }

    func testOneGroupOnePuzzleSmallerThanTheBatch() {
        // The smallest dataset: one group, one puzzle of 2 examples, batch 5.
        var sampler = GroupSampler(puzzleIndices: [0, 2], groupIndices: [0, 1], batchSize: 5, seed: 0)
        XCTAssertEqual(sampler.epochsPerPass, 3)
        for _ in 0..<4 {
            let batch = sampler.next()
            XCTAssertEqual(batch.examples.count, 5)
            XCTAssertTrue(batch.examples.allSatisfy { (0..<2).contains($0) })
            XCTAssertEqual(batch.puzzles, [0, 0, 0, 0, 0])
        }
    }

    func testEmptyGroupsAndPuzzlesDoNotTrap() {
        // Group 1 has no puzzle; puzzle 1 has no example. The draws skip them.
        var sampler = GroupSampler(puzzleIndices: [0, 2, 2, 5], groupIndices: [0, 2, 2, 3], batchSize: 6, seed: 4)
        for _ in 0..<10 {
            let batch = sampler.next()
            XCTAssertEqual(batch.examples.count, 6)
            XCTAssertFalse(batch.puzzles.contains(1))
        }
    }
}
