// The library function behind `arc-pipeline score`: files in every supported ground-truth form,
// --challenges, --candidates, text and JSON output, and clear errors.
import ARCCore
import Foundation
import Voting
import XCTest
import TestHelpers

final class ScoreRunTests: XCTestCase {
    var dir: URL!

    override func setUpWithError() throws {
        dir = try temporaryFolder(self)
        // Two tasks: "p" with 2 test inputs, "q" with 1.
        try write("challenges.json", #"""
            {"p": {"train": [{"input": [[1]], "output": [[2]]}], "test": [{"input": [[1, 1]]}, {"input": [[3]]}]},
             "q": {"train": [{"input": [[1]], "output": [[2]]}], "test": [{"input": [[4, 4], [4, 4]]}]}}
            """#)
        try write("solutions.json", #"{"p": [[[2, 2]], [[6]]], "q": [[[8, 8], [8, 8]]]}"#)
        try write("perfect.json", #"""
            {"p": [{"attempt_1": [[2, 2]], "attempt_2": [[0]]}, {"attempt_1": [[0]], "attempt_2": [[6]]}],
             "q": [{"attempt_1": [[8, 8], [8, 8]], "attempt_2": [[8, 8], [8, 8]]}]}
            """#)
        try write("half.json", #"""
            {"p": [{"attempt_1": [[2, 2]], "attempt_2": [[0]]}, {"attempt_1": [[0]], "attempt_2": [[0]]}],
             "q": [{"attempt_1": [[8, 8]], "attempt_2": [[8], [8]]}]}
            """#)
        try write("extra.json", #"""
            {"p": [{"attempt_1": [[2, 2]], "attempt_2": [[0]]}, {"attempt_1": [[0]], "attempt_2": [[6]]}],
             "q": [{"attempt_1": [[8, 8], [8, 8]], "attempt_2": [[8, 8], [8, 8]]}], "zz": []}
            """#)
        try write("missing.json", #"{"p": [{"attempt_1": [[2, 2]], "attempt_2": [[0]]}, {"attempt_1": [[0]], "attempt_2": [[6]]}]}"#)
        try write("predictions.jsonl", """
            {"task":"p","test_index":0,"candidates":[{"grid":[[0]],"votes":3,"mean_q":0.9},{"grid":[[1]],"votes":2,"mean_q":0.9},{"grid":[[2,2]],"votes":1,"mean_q":0.1}]}
            {"task":"q","test_index":0,"candidates":[{"grid":[[8,8],[8,8]],"votes":9,"mean_q":0.5}]}

            """)
    }

    func write(_ name: String, _ text: String) throws {
        try AtomicFile.write(text, to: dir.appendingPathComponent(name))
    }

    func path(_ name: String) -> String { dir.appendingPathComponent(name).path }

    func testPerfectAndHalfRightWithEveryGroundTruthForm() throws {
        // Challenges-format solutions and a per-task folder carry the same outputs.
        try write("with-outputs.json", #"""
            {"p": {"train": [], "test": [{"input": [[1, 1]], "output": [[2, 2]]}, {"input": [[3]], "output": [[6]]}]},
             "q": {"train": [], "test": [{"input": [[4, 4], [4, 4]], "output": [[8, 8], [8, 8]]}]}}
            """#)
        try write("tasks/p.json", #"{"train": [], "test": [{"input": [[1, 1]], "output": [[2, 2]]}, {"input": [[3]], "output": [[6]]}]}"#)
        try write("tasks/q.json", #"{"train": [], "test": [{"input": [[4, 4], [4, 4]], "output": [[8, 8], [8, 8]]}]}"#)
        for truth in ["solutions.json", "with-outputs.json", "tasks"] {
            let perfect = try ScoreRun.run(submissionPath: path("perfect.json"), solutionsPath: path(truth), challengesPath: path("challenges.json"), candidatesPath: nil)
            XCTAssertEqual(perfect.report.kaggleScore, 1, truth)
            XCTAssertEqual(perfect.report.taskAverageScore, 1, truth)
            XCTAssertEqual(perfect.report.pass1, 2.0 / 3.0, accuracy: 1e-12)
            // Half right: p/0 right, p/1 wrong, q/0 wrong shape.
            let half = try ScoreRun.run(submissionPath: path("half.json"), solutionsPath: path(truth), challengesPath: nil, candidatesPath: nil)
            XCTAssertEqual(half.report.kaggleScore, 1.0 / 3.0, accuracy: 1e-12)
            XCTAssertEqual(half.report.taskAverageScore, 0.25, accuracy: 1e-12)
        }
    }

    func testCandidatesGivePassAtKAndOutputsNameTheMetrics() throws {
        let run = try ScoreRun.run(submissionPath: path("perfect.json"), solutionsPath: path("solutions.json"), challengesPath: nil, candidatesPath: path("predictions.jsonl"))
        let pass = try XCTUnwrap(run.passAtK)
        // p/0 truth at rank 3, p/1 no entry, q/0 rank 1.
        XCTAssertEqual(pass.results.map(\.correctOutputs), [1, 1, 2, 2])
        XCTAssertEqual(pass.missingEntries, 1)
        let text = run.text(includeTable: true)
        XCTAssertTrue(text.contains("Kaggle score (correct test outputs / all test outputs, either attempt): 3/3 = 100.00%"), text)
        XCTAssertTrue(text.contains("Task-average score"), text)
        XCTAssertTrue(text.contains("pass@5: 2/3 = 66.67%"), text)
        XCTAssertTrue(text.contains("p         2      1          2       12"), text)
        let json = try JSONParser.parse(Data(run.jsonText().utf8))
        XCTAssertEqual(json["kaggle_score"], .double(1))
        XCTAssertEqual(json["task_average_score"], .double(1))
        XCTAssertEqual(json["test_outputs"], .int(3))
        guard case let .array(perTask)? = json["per_task"] else { return XCTFail("per_task missing") }
        XCTAssertEqual(perTask.count, 2)
    }

    func testErrorsAreClear() {
        func run(_ submission: String, _ solutions: String = "solutions.json", challenges: String? = nil) throws {
            _ = try ScoreRun.run(submissionPath: path(submission), solutionsPath: path(solutions), challengesPath: challenges.map(path), candidatesPath: nil)
        }
        assertDataError(task: "zz", messageContains: "unknown or extra task") { try run("extra.json") }
        assertDataError(task: "q", messageContains: "missing from the submission") { try run("missing.json", challenges: "challenges.json") }
        assertDataError(task: nil, messageContains: "no such file") { try run("nope.json") }
        assertDataError(task: "p", field: "test[0]", messageContains: "missing key \"output\"") { try run("perfect.json", "challenges.json") }
    }

    // MARK: The `arc-pipeline score` command itself (argument parsing, exit codes, one-line errors).

    func runPipeline(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try PipelineExecutable.run(arguments)
    }

    func testScoreCommandParsesOptionsAndExitsNonZeroWithOneLine() throws {
        let ok = try runPipeline(["score", path("half.json"), "--solutions", path("solutions.json"), "--challenges", path("challenges.json"),
                                  "--candidates", path("predictions.jsonl"), "--json"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        let json = try JSONParser.parse(Data(ok.stdout.utf8))
        guard case let .double(kaggle)? = json["kaggle_score"] else { return XCTFail(ok.stdout) }
        XCTAssertEqual(kaggle, 1.0 / 3.0, accuracy: 1e-12)
        XCTAssertNotNil(json["candidates"])

        let text = try runPipeline(["score", path("perfect.json"), "--solutions", path("solutions.json"), "--no-table"])
        XCTAssertEqual(text.status, 0, text.stderr)
        XCTAssertTrue(text.stdout.contains("Kaggle score"), text.stdout)
        XCTAssertFalse(text.stdout.contains("per-test"), text.stdout)

        let bad = try runPipeline(["score", path("extra.json"), "--solutions", path("solutions.json")])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertEqual(bad.stdout, "")
        let lines = bad.stderr.split(separator: "\n")
        XCTAssertEqual(lines.count, 1, bad.stderr)
        XCTAssertTrue(bad.stderr.hasPrefix("error: ") && bad.stderr.contains("task zz"), bad.stderr)

        let usage = try runPipeline(["score", path("perfect.json")])
        XCTAssertNotEqual(usage.status, 0)
        XCTAssertTrue(usage.stderr.contains("--solutions"), usage.stderr)
    }
}
