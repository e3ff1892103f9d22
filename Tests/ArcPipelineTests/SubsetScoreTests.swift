// A dataset built from some of the challenges' tasks (`build-dataset --tasks`) is scored, summarised
// and reported on the tasks it holds first; the whole challenges set (the others hold fallback
// attempts) comes second. The submission still covers every task. The run's config.json says which
// options were given over the preset.
import ARCCore
import Foundation
import TestHelpers
import XCTest

final class SubsetScoreTests: XCTestCase {
    func readJSON(_ url: URL) throws -> JSONValue { try JSONParser.parse(try Data(contentsOf: url)) }

    func testScoresLeadWithTheTasksTheDatasetHolds() throws {
        let root = try TinyTaskFiles.sandbox("subset-score")
        defer { try? FileManager.default.removeItem(at: root) }
        try TinyTaskFiles.write(root.appendingPathComponent("tasks/train"), prefix: "tr", count: 4)
        try TinyTaskFiles.write(root.appendingPathComponent("tasks/eval"), prefix: "ev", count: 5)
        try TinyTaskFiles.run(["build-dataset", "--train", "tasks/train", "--eval", "tasks/eval", "--tasks", "tr0,tr1,ev1,ev3",
                               "--canvas", "4", "--num-aug", "2", "--out", "built", "--quiet"], in: root)
        try TinyTaskFiles.run(["train", "--dataset", "built", "--out", "run", "--max-steps", "2", "--hidden-size", "16", "--heads", "2",
                               "--halt-max-steps", "2", "--batch-size", "4", "--threads", "1", "--quiet"], in: root)
        let out = try TinyTaskFiles.run(["evaluate", "--dataset", "built", "--model", "run", "--out", "sub", "--threads", "1", "--quiet"], in: root).stdout

        // Printed summary: the held tasks first, the whole set second.
        let lines = out.split(separator: "\n").map(String.init)
        let held = try XCTUnwrap(lines.firstIndex { $0.hasPrefix("score on the 2 tasks the dataset holds:") }, out)
        let whole = try XCTUnwrap(lines.firstIndex { $0.contains("whole challenges set (5 tasks; the other 3 get fallback attempts)") }, out)
        XCTAssertLessThan(held, whole, out)

        // score.json: top-level fields are the held tasks', `whole_set` the challenges'.
        let score = try readJSON(root.appendingPathComponent("sub/score.json"))
        XCTAssertEqual(score["tasks"], .int(2))
        XCTAssertEqual(score["test_outputs"], .int(2))
        guard case let .object(wholeSet)? = score["whole_set"] else { return XCTFail("score.json has no whole_set: \(score)") }
        XCTAssertEqual(wholeSet.first { $0.0 == "tasks" }?.1, .int(5))
        XCTAssertEqual(wholeSet.first { $0.0 == "test_outputs" }?.1, .int(5))
        let evaluation = try readJSON(root.appendingPathComponent("sub/evaluation.json"))
        XCTAssertEqual(evaluation["dataset_tasks"], .array([.string("ev1"), .string("ev3")]))

        // The submission still covers every task of the challenges.
        let challenges = try TaskLoader.loadDirectory(root.appendingPathComponent("tasks/eval"), name: "eval")
        let submission = try Submission.load(from: root.appendingPathComponent("sub/submission.json"),
                                             expected: SubmissionExpectation(challenges: challenges))
        XCTAssertEqual(submission.taskCount, 5)

        // The report lists the held tasks only and names the whole set's score second.
        let html = try String(contentsOf: root.appendingPathComponent("sub/report.html"), encoding: .utf8)
        XCTAssertTrue(html.contains("on the 2 tasks of the dataset"), "the score card names its scope")
        XCTAssertTrue(html.contains("data-metric=\"whole_set_kaggle_score\""), "the whole set's score is shown")
        XCTAssertTrue(html.contains("2 test inputs in 2 tasks (of 5 in the challenges)"), "counts are about the held tasks")
        for id in ["ev0", "ev2", "ev4"] { XCTAssertFalse(html.contains("id=\"task-\(id)\""), "task \(id) is not in the dataset") }

        // config.json says what was run over the preset.
        let config = try readJSON(root.appendingPathComponent("run/config.json"))
        XCTAssertEqual(config["preset"], .string("cpu"))
        XCTAssertEqual(config["overrides"], .string("--hidden-size 16 --heads 2 --halt-max-steps 2 --batch-size 4"))
    }
}
