// Bad numeric options of every command, one row per value: each is refused by validation with
// one `Error:` line naming the option (and the allowed range), without a trap, before anything
// is written (the harness checks the disk). The inputs the commands would use exist, so a value
// that slipped through would reach training, building or evaluation.
import Foundation
import TestHelpers
import XCTest

final class HostileOptionsTests: XCTestCase {
    /// A tiny task folder `tasks/` (training role) and the same tasks as fetched ARC-AGI-2 data
    /// under `data/`, so build-dataset and train-eval would run on them.
    static func writeTasks(_ root: URL) throws {
        for t in 0..<3 {
            let task = "{\"train\": [{\"input\": [[\(t % 2), 1]], \"output\": [[\(t % 2), 2]]}, {\"input\": [[1]], \"output\": [[2]]}], "
                + "\"test\": [{\"input\": [[1, 1]], \"output\": [[2, 2]]}]}"
            try root.write(task, to: "tasks/t\(t).json")
            try root.write(task, to: "data/arc-agi-2/training/tr\(t).json")
            try root.write(task, to: "data/arc-agi-2/evaluation/ev\(t).json")
        }
    }

    /// A built dataset, made once by the executable, copied into each sandbox as `built/`.
    static let templateRoot = FileManager.default.temporaryDirectory.appendingPathComponent("arc-hostile-options-\(UUID().uuidString.prefix(8))")
    static let builtTemplate = Result<URL, Error>(catching: {
        let root = templateRoot
        try writeTasks(root)
        let result = try PipelineExecutable.run(["build-dataset", "--train", "./tasks", "--eval", "./tasks", "--canvas", "3",
                                                        "--num-aug", "2", "--out", "built", "--quiet"], in: root)
        guard result.status == 0 else { throw NSError(domain: "build-dataset failed: \(result.stderr)", code: 1) }
        return root.appendingPathComponent("built")
    })

    override class func tearDown() {
        try? FileManager.default.removeItem(at: templateRoot)
        super.tearDown()
    }

    func prepare(_ root: URL) throws {
        try Self.writeTasks(root)
        try FileManager.default.copyItem(at: try Self.builtTemplate.get(), to: root.appendingPathComponent("built"))
    }

    /// One row per (option, bad value): `command` with `--option=value` appended; the error must name
    /// the option and `mentions`.
    func rows(_ command: [String], _ table: [(option: String, values: [String], mentions: [String])]) -> [HostileCase] {
        table.flatMap { row in
            row.values.map { value in
                // `--option=value`: a negative value given as a separate word is refused by the parser already.
                HostileCase(name: "\(command[0]) \(row.option)=\(value)", arguments: command + ["\(row.option)=\(value)"],
                            errorMentions: [row.option] + row.mentions, prepare: prepare)
            }
        }
    }

    // Shared by train and train-eval.
    let trainerRows: [(option: String, values: [String], mentions: [String])] = [
        ("--lr", ["inf", "nan", "-inf", "0", "-1", "2"], ["(0, 1]"]),
        ("--puzzle-emb-lr", ["inf", "nan", "-0.1", "1.5"], ["[0, 1]"]),
        ("--weight-decay", ["nan", "inf", "-1", "11"], ["[0, 10]"]),
        ("--puzzle-emb-weight-decay", ["nan", "inf", "-1", "11"], ["[0, 10]"]),
        ("--warmup-steps", ["-5", "1000000001"], ["0...1000000000"]),
        ("--lr-min-ratio", ["nan", "-0.5", "1.5"], ["[0, 1]"]),
        ("--exploration", ["nan", "-0.1", "2"], ["[0, 1]"]),
        ("--epochs", ["inf", "nan", "0", "-1", "1e8"], ["(0, 10000000]"]),
        ("--max-steps", ["0", "-1", "1000000001"], ["1...1000000000"]),
        ("--log-interval", ["0", "-3"], ["1...1000000000"]),
        ("--checkpoint-interval", ["0", "-3"], ["1...1000000000"]),
        ("--batch-size", ["0", "-1", "5000"], ["1...4096"]),
        ("--seed", ["18446744073709551615", "9223372036854775808"], ["0...9223372036854775807"]),
        ("--seed", ["-1", "18446744073709551616"], []),  // not a UInt64: the parser names the option
        ("--threads", ["0", "-2", "100000", "257"], ["1...256"]),
        ("--precision", ["bf32", "fp16", "BF16x"], ["auto", "fp32", "bf16"]),
        ("--time-budget", ["inf", "nan", "-5", "10x", "1h30", "1e3", "infs", "1..5m", "0x10", "5 m",
                           String(repeating: "9", count: 400)], ["not a duration"]),
        ("--time-budget", [""], []),  // the parser: missing value
        ("--time-budget", ["0", "0s", "0h0m", "8761h", "99999999h"], ["(0, 31536000]"]),  // 365 days = 8760 h
        ("--hidden-size", ["0", "-64", "1", "5000"], ["2...4096"]),
        ("--hidden-size", ["66"], ["even"]),
        ("--heads", ["0", "300"], ["1...256"]),
        ("--heads", ["3"], ["multiple"]),
        ("--h-layers", ["0", "65"], ["1...64"]),
        ("--l-layers", ["0", "65"], ["1...64"]),
        ("--h-cycles", ["0", "100"], ["1...64"]),
        ("--l-cycles", ["0", "100"], ["1...64"]),
        ("--halt-max-steps", ["0", "-1", "1000"], ["1...256"]),
        ("--expansion", ["0", "inf", "nan", "-1", "0.1", "17"], ["[0.5, 16]"]),
        ("--puzzle-emb-ndim", ["-1", "5000"], ["0...4096"]),
        ("--preset", ["nosuch"], ["nosuch", "cpu-bench"]),
    ]

    func testTrainOptions() throws {
        var cases = rows(["train", "--dataset", "built", "--out", "run", "--max-steps", "2"], trainerRows)
        cases.append(HostileCase(name: "train: a model too large to allocate",
                                 arguments: ["train", "--dataset", "built", "--out", "run", "--preset", "paper", "--hidden-size", "4096",
                                             "--h-layers", "64", "--l-layers", "64"],
                                 errorMentions: ["--hidden-size", "parameters"], prepare: prepare))
        // The schedule's length from a dataset.json with an absurd mean: a clear error, not an Int conversion trap.
        cases.append(HostileCase(name: "train: mean_puzzle_examples 1e300", arguments: ["train", "--dataset", "built", "--out", "run"],
                                 errorMentions: ["train/dataset.json", "mean_puzzle_examples"], prepare: { root in
            try self.prepare(root)
            let url = root.appendingPathComponent("built/train/dataset.json")
            var json = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(contentsOf: url)) as? [String: Any])
            json["mean_puzzle_examples"] = 1e300
            try JSONSerialization.data(withJSONObject: json).write(to: url)
        }))
        try HostileInputHarness.check(cases)
    }

    func testTrainEvalOptions() throws {
        let command = ["train-eval", "--data-dir", "data", "--dataset", "arc2", "--canvas", "3", "--num-aug", "1", "--max-steps", "2", "--out", "sub"]
        // The model, trainer and run option groups are the ones train uses (all rows in testTrainOptions);
        // here the values of the original reports, then train-eval's own options.
        var table: [(option: String, values: [String], mentions: [String])] = [
            ("--lr", ["inf"], ["(0, 1]"]), ("--weight-decay", ["nan"], ["[0, 10]"]), ("--epochs", ["inf"], ["(0, 10000000]"]),
            ("--seed", ["18446744073709551615"], ["0...9223372036854775807"]), ("--threads", ["100000"], ["1...256"]),
            ("--time-budget", ["inf"], ["not a duration"]), ("--expansion", ["0"], ["[0.5, 16]"]),
            ("--warmup-steps", ["-5"], ["0...1000000000"]), ("--hidden-size", ["66"], ["even"]), ("--preset", ["nosuch"], ["nosuch", "cpu-bench"]),
            ("--precision", ["fp16"], ["auto", "fp32", "bf16"]),
        ]
        table += [
            ("--num-aug", ["0", "-1", "10001"], ["1...10000"]),
            ("--dataset-seed", ["18446744073709551615"], ["0...9223372036854775807"]),
            ("--canvas", ["0", "31", "-1"], ["1...30"]),
            ("--max-tasks", ["0", "-1"], ["1...1000000"]),
            ("--eval-batch-size", ["0", "5000"], ["1...4096"]),
        ]
        try HostileInputHarness.check(rows(command, table))
    }

    func testTrainEvalRefusesAnEvaluationThatDoesNotFitBeforeTraining() throws {
        // Told it has 1 MB (ARC_MEMORY_BYTES): the evaluation's model is refused, naming train-eval's own
        // option, before the training run is made (whose check would name the training batch instead).
        let command = ["train-eval", "--data-dir", "data", "--dataset", "arc2", "--canvas", "3", "--num-aug", "1", "--max-steps", "2", "--out", "sub",
                       "--hidden-size", "16", "--heads", "2", "--halt-max-steps", "2", "--threads", "1", "--eval-batch-size", "64"]
        try HostileInputHarness.check([
            HostileCase(name: "train-eval with an evaluation larger than the memory", arguments: command,
                        errorMentions: ["evaluating at batch size", "--eval-batch-size"], prepare: prepare,
                        mayChange: ["data/built", "arc-data"], environment: ["ARC_MEMORY_BYTES": "1000000"]),
        ])
    }

    func testBuildDatasetOptions() throws {
        let command = ["build-dataset", "--train", "./tasks", "--eval", "./tasks", "--out", "built2", "--quiet"]
        try HostileInputHarness.check(rows(command, [
            ("--num-aug", ["0", "-1", "10001"], ["1...10000"]),
            ("--seed", ["18446744073709551615"], ["0...9223372036854775807"]),
            ("--canvas", ["0", "31"], ["1...30"]),
            ("--threads", ["0", "100000"], ["1...256"]),
            ("--max-tasks", ["0", "-4"], ["1...1000000"]),
        ]))
    }

    func testEvaluateOptions() throws {
        let command = ["evaluate", "--dataset", "built", "--model", "run", "--out", "sub"]
        try HostileInputHarness.check(rows(command, [
            ("--batch-size", ["0", "-1", "5000"], ["1...4096"]),
            ("--halt-max-steps", ["0", "300"], ["1...256"]),
            ("--threads", ["0", "100000"], ["1...256"]),
            ("--precision", ["fp16", "bfloat16"], ["auto", "fp32", "bf16"]),
        ]))
    }

    func testFetchAndReportOptions() throws {
        try HostileInputHarness.check(rows(["fetch", "arc-agi-1", "--mirror", "nowhere"], [("--retries", ["0", "-1", "101"], ["1...100"])])
            + [HostileCase(name: "report --split without --challenges", arguments: ["report", "sub", "--split", "evaluation"],
                           errorMentions: ["--split", "--challenges"], prepare: prepare)])
    }

    func testDurationParser() throws {
        // Accepted durations still train: a time budget parsed as the whole text, in seconds.
        let root = try HostileInputHarness.makeSandbox()
        defer { try? FileManager.default.removeItem(at: root) }
        try prepare(root)
        for (index, (budget, seconds)) in [("90", 90), ("1.5m", 90), ("1h30m", 5400), ("2s", 2), ("0.5h1s", 1801)].enumerated() {
            let result = try PipelineExecutable.run(["train", "--dataset", "built", "--out", "run-\(index)", "--max-steps", "1",
                                                           "--time-budget", budget, "--threads", "1"], in: root)
            XCTAssertEqual(result.status, 0, "--time-budget \(budget): \(result.stderr)")
            XCTAssertTrue(result.stderr.contains("or \(seconds) s"), "--time-budget \(budget) is \(seconds) s: \(result.stderr)")
        }
    }
}
