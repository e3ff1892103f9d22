// A built dataset's identifiers.json names each puzzle `<task>_t<dihedral>_<colour map>`; voting and
// evaluation decode the augmentation from that name. Names with an out-of-range dihedral index or a
// colour map that is not a permutation fixing 0 must not reach Augmentation's precondition:
// Augmentation.parse keeps them as bare task names (no augmentation to undo), so `train` and
// `evaluate` on such a dataset finish, and every challenge task still gets its attempts.
import ARCAugment
import ARCCore
import Foundation
import TestHelpers
import XCTest

final class HostileIdentifiersTests: XCTestCase {
    /// Puzzle-name suffixes that look like augmentations but are not valid ones.
    static let hostileSuffixes = [
        "_t8_0123456789",          // dihedral 8 (0...7 exist)
        "_t9_0123456789",
        "_t-1_0123456789",
        "_t\u{0668}_0123456789",   // ARABIC-INDIC DIGIT EIGHT: a digit, but 8
        "_t\u{2167}_0123456789",   // ROMAN NUMERAL EIGHT (whole-number value 8)
        "_t\u{5104}_0123456789",   // a CJK numeral worth 100000000
        "_t99999999999999999999_0123456789",
        "_t7_0123456788",          // colour 9 missing, 8 twice
        "_t7_1023456789",          // moves colour 0
        "_t7_012345678",           // nine digits
        "_t7_01234567890",         // eleven digits
        "_t7_\u{0660}\u{0661}\u{0662}\u{0663}\u{0664}\u{0665}\u{0666}\u{0667}\u{0668}\u{0669}",  // non-ASCII digits
        "_t7_",
        "_t_0123456789",
    ]

    func testTrainAndEvaluateOnHostilePuzzleNames() throws {
        let root = try TinyTaskFiles.sandbox("hostile-identifiers")
        defer { try? FileManager.default.removeItem(at: root) }
        try TinyTaskFiles.write(root.appendingPathComponent("tasks/train"), prefix: "tr", count: 3)
        try TinyTaskFiles.write(root.appendingPathComponent("tasks/eval"), prefix: "ev", count: 3)
        try TinyTaskFiles.run(["build-dataset", "--train", "tasks/train", "--eval", "tasks/eval", "--canvas", "4", "--num-aug", "3",
                               "--out", "built", "--quiet"], in: root)

        // Every name but the blank becomes `<its task>` + a hostile suffix (same count, so the
        // dataset still opens: num_puzzle_identifiers matches).
        let identifiersURL = root.appendingPathComponent("built/identifiers.json")
        guard case let .array(names) = try JSONParser.parse(try Data(contentsOf: identifiersURL)) else {
            return XCTFail("identifiers.json is not an array")
        }
        XCTAssertGreaterThan(names.count, Self.hostileSuffixes.count, "every hostile suffix is used at least once")
        let hostile: [JSONValue] = names.enumerated().map { index, name in
            guard index > 0, case let .string(text) = name else { return name }
            let task = Augmentation.parse(puzzleName: text).task  // the builder's own suffix removed
            return .string(task + Self.hostileSuffixes[(index - 1) % Self.hostileSuffixes.count])
        }
        try Data(JSONWriter.text(.array(hostile)).utf8).write(to: identifiersURL)

        let model = ["--max-steps", "1", "--hidden-size", "16", "--heads", "2", "--halt-max-steps", "2", "--batch-size", "4", "--threads", "1", "--quiet"]
        let train = try PipelineExecutable.run(["train", "--dataset", "built", "--out", "run"] + model, in: root)
        assertFinishedCleanly(train, "train")
        let evaluate = try PipelineExecutable.run(["evaluate", "--dataset", "built", "--model", "run", "--out", "sub", "--threads", "1", "--quiet"], in: root)
        assertFinishedCleanly(evaluate, "evaluate")

        // The submission still covers every challenge task (the renamed puzzles vote for no known task).
        let challenges = try TaskLoader.loadDirectory(root.appendingPathComponent("tasks/eval"), name: "eval")
        let submission = try Submission.load(from: root.appendingPathComponent("sub/submission.json"),
                                             expected: SubmissionExpectation(challenges: challenges))
        XCTAssertEqual(submission.taskCount, 3)
    }

    private func assertFinishedCleanly(_ result: (status: Int32, stdout: String, stderr: String), _ command: String,
                                       file: StaticString = #filePath, line: UInt = #line) {
        XCTAssertEqual(result.status, 0, "\(command) failed:\n\(result.stderr)", file: file, line: line)
        for marker in HostileInputHarness.trapMarkers {
            XCTAssertFalse(result.stderr.contains(marker), "\(command) printed \(marker):\n\(result.stderr)", file: file, line: line)
        }
    }
}
