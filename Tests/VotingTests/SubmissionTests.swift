// The submission model (docs/SPEC.md §7): Kaggle JSON text, strict decoding errors, the shared validator,
// the atomic validated write, and the scorer on crafted submissions.
import ARCCore
import Foundation
import XCTest

final class SubmissionTests: XCTestCase {
    let expectation = SubmissionExpectation(taskIds: ["b2", "a1"], testCounts: ["b2": 2, "a1": 1], source: "challenges.json")

    func sample() -> Submission {
        Submission([
            ("a1", [Attempts(attempt1: grid([[1, 2]]), attempt2: grid([[3], [4]]))]),
            ("b2", [Attempts(attempt1: grid([[0]]), attempt2: grid([[0]])), Attempts(attempt1: grid([[9, 9], [9, 9]]), attempt2: grid([[5]]))]),
        ])
    }

    func testJSONTextFollowsKaggleSchemaInChallengesOrder() {
        XCTAssertEqual(sample().jsonText(order: expectation.taskIds), """
            {"b2":[{"attempt_1":[[0]],"attempt_2":[[0]]},{"attempt_1":[[9,9],[9,9]],"attempt_2":[[5]]}],
            "a1":[{"attempt_1":[[1,2]],"attempt_2":[[3],[4]]}]}

            """)
    }

    func testDecodeRoundTripsAndKeepsOrder() throws {
        let s = sample()
        let decoded = try Submission.decode(Data(s.jsonText().utf8), file: "s.json", expected: expectation)
        XCTAssertEqual(decoded, s)
        XCTAssertEqual(decoded.taskIds, ["a1", "b2"])
    }

    func testStrictDecodeNamesTaskEntryAndField() {
        func decode(_ text: String) throws { _ = try Submission.decode(Data(text.utf8), file: "s.json", expected: expectation) }
        let a1 = #""a1":[{"attempt_1":[[1]],"attempt_2":[[1]]}]"#
        let b2 = #""b2":[{"attempt_1":[[1]],"attempt_2":[[1]]},{"attempt_1":[[1]],"attempt_2":[[1]]}]"#
        XCTAssertNoThrow(try decode("{\(a1),\(b2)}"))
        assertDataError(task: "zz", messageContains: "not in challenges.json") { try decode(#"{\#(a1),\#(b2),"zz":[]}"#) }
        assertDataError(task: "b2", messageContains: "missing from the submission") { try decode("{\(a1)}") }
        assertDataError(task: "a1", messageContains: "has 2 entries but the task has 1 test input") {
            try decode(#"{"a1":[{"attempt_1":[[1]],"attempt_2":[[1]]},{"attempt_1":[[1]],"attempt_2":[[1]]}],\#(b2)}"#)
        }
        assertDataError(task: "a1", field: "[0]", messageContains: "missing \"attempt_2\"") { try decode(#"{"a1":[{"attempt_1":[[1]]}],\#(b2)}"#) }
        assertDataError(task: "a1", field: "[0].attempt_1", messageContains: "ragged") {
            try decode(#"{"a1":[{"attempt_1":[[1,2],[3]],"attempt_2":[[1]]}],\#(b2)}"#)
        }
        assertDataError(task: "a1", field: "[0].attempt_2", messageContains: "empty") { try decode(#"{"a1":[{"attempt_1":[[1]],"attempt_2":[]}],\#(b2)}"#) }
        let wide = "[[" + Array(repeating: "1", count: 31).joined(separator: ",") + "]]"
        assertDataError(task: "a1", field: "[0].attempt_1", messageContains: "31 columns") { try decode(#"{"a1":[{"attempt_1":\#(wide),"attempt_2":[[1]]}],\#(b2)}"#) }
        assertDataError(task: "a1", field: "[0].attempt_1", messageContains: "is 10") { try decode(#"{"a1":[{"attempt_1":[[10]],"attempt_2":[[1]]}],\#(b2)}"#) }
        assertDataError(task: "a1", field: "[0].attempt_1", messageContains: "is -1") { try decode(#"{"a1":[{"attempt_1":[[-1]],"attempt_2":[[1]]}],\#(b2)}"#) }
        assertDataError(task: "a1", field: "[0].attempt_3", messageContains: "unexpected key") {
            try decode(#"{"a1":[{"attempt_1":[[1]],"attempt_2":[[1]],"attempt_3":[[1]]}],\#(b2)}"#)
        }
        assertDataError(task: "a1", messageContains: "duplicate task id") { try decode("{\(a1),\(a1),\(b2)}") }
        assertDataError(task: "a1", messageContains: "expected an array") { try decode(#"{"a1":{},\#(b2)}"#) }
        assertDataError(task: nil, messageContains: "expected an object") { try decode("[]") }
        assertDataError(task: nil, messageContains: "invalid JSON") { try decode("{") }
    }

    func testValidatorCatchesGridsBuiltInCodeAndWriteIsValidatedAndAtomic() throws {
        let dir = try temporaryFolder(self)
        let url = dir.appendingPathComponent("submission.json")
        var s = sample()
        try s.write(to: url, validatingAgainst: expectation)
        // Written in the challenges' task order.
        let loaded = try Submission.load(from: url, expected: expectation)
        XCTAssertEqual(loaded.taskIds, ["b2", "a1"])
        for id in ["a1", "b2"] { XCTAssertEqual(loaded[id], s[id], id) }
        let before = try Data(contentsOf: url)

        s["b2"]![1].attempt2 = Grid(rows: 1, cols: 1, cells: [11])
        assertDataError(task: "b2", field: "[1].attempt_2", messageContains: "is 11") { try s.write(to: url, validatingAgainst: expectation) }
        s["b2"]![1].attempt2 = Grid(rows: 31, cols: 1, fill: 0)
        assertDataError(task: "b2", field: "[1].attempt_2", messageContains: "31 rows") { try s.write(to: url, validatingAgainst: expectation) }
        s["b2"] = nil
        assertDataError(task: "b2", messageContains: "missing") { try s.write(to: url, validatingAgainst: expectation) }
        // A failed validation leaves the previous file untouched, and no temporary files behind.
        XCTAssertEqual(try Data(contentsOf: url), before)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["submission.json"])
    }

    func testScorerOnCraftedSubmissions() throws {
        let x = grid([[1, 2, 3], [4, 5, 6]])
        let y = grid([[7]])
        let z = grid([[8, 8]])
        let solutions = SolutionSet(taskIds: ["p", "q"], outputs: ["p": [x, y], "q": [z]], source: "solutions.json")
        func score(_ p: [Attempts], _ q: [Attempts]) throws -> ScoreReport {
            try SubmissionScorer.score(Submission([("p", p), ("q", q)]), solutions: solutions, file: "s.json")
        }
        // Perfect.
        var r = try score([Attempts(attempt1: x, attempt2: x), Attempts(attempt1: y, attempt2: y)], [Attempts(attempt1: z, attempt2: z)])
        XCTAssertEqual([r.kaggleScore, r.taskAverageScore, r.pass1, r.fullySolvedTaskFraction], [1, 1, 1, 1])
        // Half right: p/0 right (attempt_2), p/1 wrong, q/0 right (attempt_1) -> Kaggle 2/3, task average (1/2 + 1)/2.
        r = try score([Attempts(attempt1: y, attempt2: x), Attempts(attempt1: z, attempt2: z)], [Attempts(attempt1: z, attempt2: y)])
        XCTAssertEqual(r.kaggleScore, 2.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(r.taskAverageScore, 0.75, accuracy: 1e-12)
        XCTAssertEqual(r.pass1, 1.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(r.pass1TaskAverage, 0.5, accuracy: 1e-12)
        XCTAssertEqual(r.fullySolvedTaskCount, 1)
        XCTAssertEqual(r.tasks.map { $0.tests.map(\.attempt2Correct) }, [[true, false], [false]])
        // Wrong shape: the transpose of x has x's colours but is 3x2: scores 0, not an error.
        r = try score([Attempts(attempt1: grid([[1, 4], [2, 5], [3, 6]]), attempt2: grid([[1, 2, 3]])), Attempts(attempt1: y, attempt2: y)], [Attempts(attempt1: z, attempt2: z)])
        XCTAssertEqual(r.correctOutputCount, 2)
        XCTAssertEqual(r.tasks[0].tests.map(\.correct), [false, true])
        // Missing task, extra task, wrong entry count: errors naming the task.
        assertDataError(task: "q", messageContains: "missing from the submission") {
            _ = try SubmissionScorer.score(Submission([("p", [Attempts(attempt1: x, attempt2: x), Attempts(attempt1: y, attempt2: y)])]), solutions: solutions, file: "s.json")
        }
        assertDataError(task: "r", messageContains: "not in solutions.json") {
            _ = try SubmissionScorer.score(Submission([("p", [Attempts(attempt1: x, attempt2: x), Attempts(attempt1: y, attempt2: y)]),
                                                       ("q", [Attempts(attempt1: z, attempt2: z)]), ("r", [])]), solutions: solutions, file: "s.json")
        }
        assertDataError(task: "p", messageContains: "has 1 entries but the task has 2 test inputs") {
            _ = try score([Attempts(attempt1: x, attempt2: x)], [Attempts(attempt1: z, attempt2: z)])
        }
    }
}
