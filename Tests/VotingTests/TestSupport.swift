// Shared helpers for the Voting tests: a seeded RNG, grid builders, crafted tasks, temporary folders.
import ARCCore
import Foundation
import XCTest

/// SplitMix64: a small seeded generator so every test is reproducible.
struct SplitMix64: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

/// A grid from nested rows; fails the test on bad input.
func grid(_ rows: [[Int]], file: StaticString = #filePath, line: UInt = #line) -> Grid {
    do { return try Grid(validating: rows) } catch {
        XCTFail("bad test grid: \(error)", file: file, line: line)
        return Grid(rows: 1, cols: 1)
    }
}

/// A random valid grid of the given shape with colours 0..9.
func randomGrid(rows: Int, cols: Int, using rng: inout SplitMix64) -> Grid {
    Grid(rows: rows, cols: cols, cells: (0..<(rows * cols)).map { _ in UInt8.random(in: 0...9, using: &rng) })
}

/// Crafted tasks with non-square outputs and several test inputs.
func craftedTasks() -> TaskSet {
    var rng = SplitMix64(seed: 7)
    func pair(_ r: Int, _ c: Int, _ orr: Int, _ oc: Int) -> Pair {
        Pair(input: randomGrid(rows: r, cols: c, using: &rng), output: randomGrid(rows: orr, cols: oc, using: &rng))
    }
    return TaskSet(name: "crafted", tasks: [
        ARCTask(id: "aa11bb22", train: [pair(3, 3, 3, 3)], test: [pair(2, 3, 2, 3), pair(4, 1, 1, 4)]),
        ARCTask(id: "cc33dd44", train: [pair(2, 2, 2, 2)], test: [pair(5, 7, 3, 2)]),
        ARCTask(id: "ee55ff66", train: [pair(1, 1, 1, 1)], test: [pair(1, 1, 1, 1), pair(30, 30, 30, 30), pair(2, 9, 9, 2)]),
    ])
}

/// A fresh temporary folder, removed when the test ends.
func temporaryFolder(_ testCase: XCTestCase) throws -> URL {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("voting-tests-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    testCase.addTeardownBlock { try? FileManager.default.removeItem(at: url) }
    return url
}

/// Asserts that `body` throws an `ARCDataError` whose task, field and message match.
func assertDataError(task: String?, field: String? = nil, messageContains: String,
                     file: StaticString = #filePath, line: UInt = #line, _ body: () throws -> Void) {
    do {
        try body()
        XCTFail("expected an error containing \"\(messageContains)\"", file: file, line: line)
    } catch let e as ARCDataError {
        XCTAssertEqual(e.task, task, "task of: \(e)", file: file, line: line)
        if let field { XCTAssertEqual(e.field, field, "field of: \(e)", file: file, line: line) }
        XCTAssertTrue(e.message.contains(messageContains), "message of: \(e)", file: file, line: line)
    } catch {
        XCTFail("unexpected error type: \(error)", file: file, line: line)
    }
}
