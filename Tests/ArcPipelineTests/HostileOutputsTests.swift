// Hostile outputs against the executable: `--out` pointing at a user's folder, a file, an input,
// an unwritable place; a run folder two trainings want at once; Ctrl-C in the middle of a dataset
// build; an evaluation into a folder holding an older run's outputs. Nothing the user has is
// deleted, outputs of one run are complete and consistent, refusals come before the work.
import Foundation
import TestHelpers
import XCTest

final class HostileOutputsTests: XCTestCase {
    static let tinyModel = ["--hidden-size", "16", "--heads", "2", "--halt-max-steps", "2", "--batch-size", "4", "--threads", "1"]
    static let buildArguments = ["build-dataset", "--train", "tasks/train", "--eval", "tasks/eval", "--canvas", "4", "--num-aug", "1",
                                 "--threads", "1", "--quiet"]

    // MARK: fixtures

    nonisolated(unsafe) static var cachedFixture: URL?
    static let fixtureLock = NSLock()

    /// Made once: tasks/{train,eval}, built/ (a dataset of them), run/ (2 training steps) and sub/
    /// (its evaluation).
    static func fixture() throws -> URL {
        fixtureLock.lock(); defer { fixtureLock.unlock() }
        if let cachedFixture { return cachedFixture }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("arc-hostile-outputs-fixture-\(getpid())")
        try? FileManager.default.removeItem(at: root)
        try TinyTaskFiles.write(root.appendingPathComponent("tasks/train"), prefix: "tr", count: 4, withTestOutputs: true)
        try TinyTaskFiles.write(root.appendingPathComponent("tasks/eval"), prefix: "ev", count: 2, withTestOutputs: true)
        try mustRun(buildArguments + ["--out", "built"], in: root)
        try mustRun(["train", "--dataset", "built", "--out", "run", "--max-steps", "2", "--quiet"] + tinyModel, in: root)
        try mustRun(["evaluate", "--dataset", "built", "--model", "run", "--out", "sub", "--threads", "1", "--quiet"], in: root)
        cachedFixture = root
        return root
    }

    override class func tearDown() {
        fixtureLock.lock(); defer { fixtureLock.unlock() }
        if let cachedFixture { try? FileManager.default.removeItem(at: cachedFixture) }
        cachedFixture = nil
        super.tearDown()
    }

    /// Copies the fixture's `names` into `root`.
    static func copyFixture(_ names: [String], to root: URL) throws {
        let fixture = try fixture()
        for name in names {
            try FileManager.default.copyItem(at: fixture.appendingPathComponent(name), to: root.appendingPathComponent(name))
        }
    }

    struct RunFailure: Error, CustomStringConvertible { let description: String }

    @discardableResult
    static func mustRun(_ arguments: [String], in directory: URL) throws -> String {
        let (status, out, err) = try PipelineExecutable.run(arguments, in: directory)
        guard status == 0 else { throw RunFailure(description: "arc-pipeline \(arguments.joined(separator: " ")) failed (\(status)): \(err)") }
        return out
    }

    func sandbox() throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("arc-hostile-outputs-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: root) }
        return root
    }

    // MARK: build-dataset

    func testBuildDatasetReplacesOnlyWhatItBuilt() throws {
        let tasks: (URL) throws -> Void = { try Self.copyFixture(["tasks"], to: $0) }
        try HostileInputHarness.check([
            HostileCase(name: "--out is a folder of the user's files", arguments: Self.buildArguments + ["--out", "mine"], errorMentions: ["mine", "notes.txt"],
                        prepare: { try tasks($0); try $0.write("my notes\n", to: "mine/notes.txt") }),
            HostileCase(name: "--out is a regular file", arguments: Self.buildArguments + ["--out", "notes.txt"], errorMentions: ["notes.txt", "not a folder"],
                        prepare: { try tasks($0); try $0.write("my notes\n", to: "notes.txt") }),
            HostileCase(name: "--out is the --data-dir", arguments: Self.buildArguments + ["--data-dir", "tasks", "--out", "tasks"],
                        errorMentions: ["tasks", "--data-dir"], prepare: tasks),
            HostileCase(name: "--out holds the --data-dir", arguments: Self.buildArguments + ["--data-dir", "store/arc-data", "--out", "store"],
                        errorMentions: ["store", "--data-dir"],
                        prepare: { try tasks($0); try $0.write("{}\n", to: "store/arc-data/kaggle/manifest.json") }),
            HostileCase(name: "--out inside a source folder", arguments: Self.buildArguments + ["--out", "tasks/train/built"],
                        errorMentions: ["tasks/train"], prepare: tasks),
            HostileCase(name: "--out is a built dataset with a user's file added", arguments: Self.buildArguments + ["--out", "built"],
                        errorMentions: ["built", "notes.txt"],
                        prepare: { try Self.copyFixture(["tasks", "built"], to: $0); try $0.write("mine\n", to: "built/notes.txt") }),
            HostileCase(name: "--out is a symbolic link", arguments: Self.buildArguments + ["--out", "link"], errorMentions: ["link", "symbolic link"],
                        prepare: { try Self.copyFixture(["tasks", "built"], to: $0)
                            try FileManager.default.createSymbolicLink(atPath: $0.appendingPathComponent("link").path, withDestinationPath: "built") }),
            HostileCase(name: "--out under a regular file", arguments: Self.buildArguments + ["--out", "blocker/built"], errorMentions: ["blocker"],
                        prepare: { try tasks($0); try $0.write("a file\n", to: "blocker") }),
            HostileCase(name: "--out cannot be created", arguments: Self.buildArguments + ["--out", "/proc/arc-pipeline-test/built"],
                        errorMentions: ["/proc/arc-pipeline-test/built", "cannot be written"], prepare: tasks),
        ])
    }

    func testBuildDatasetReplacesItsOwnDatasetAndUsesAnEmptyFolder() throws {
        let root = try sandbox()
        try Self.copyFixture(["tasks", "built"], to: root)
        try FileManager.default.createDirectory(at: root.appendingPathComponent("empty"), withIntermediateDirectories: true)
        try Self.mustRun(Self.buildArguments + ["--out", "built", "--seed", "7"], in: root)
        try Self.mustRun(Self.buildArguments + ["--out", "empty"], in: root)
        let info = try String(contentsOf: root.appendingPathComponent("built/build_info.json"), encoding: .utf8)
        XCTAssertTrue(info.contains("\"seed\": 7"), info)
        XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent("empty/train/all__inputs.npy").path))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root.path).sorted(), ["built", "empty", "tasks"])
    }

    /// Enough work to interrupt: 30 tasks of 10x10 grids in all ten colours, 1000 augmentations each.
    func writeLargeTasks(_ dir: URL) throws {
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        for t in 0..<30 {
            func grid(_ k: Int) -> String { "\((0..<10).map { r in (0..<10).map { c in (r * 3 + c * 7 + t + k) % 10 } })" }
            let pairs = (0..<3).map { "{\"input\": \(grid($0)), \"output\": \(grid($0 + 5))}" }
            try Data("{\"train\": [\(pairs[0]), \(pairs[1])], \"test\": [\(pairs[2])]}".utf8).write(to: dir.appendingPathComponent("big\(t).json"))
        }
    }

    func testInterruptedBuildLeavesNoPartialFolderAndKeepsTheOldOutput() throws {
        try interruptBuild(with: SIGINT)
        try interruptBuild(with: SIGTERM)
    }

    func interruptBuild(with signal: Int32, line: UInt = #line) throws {
        let root = try sandbox()
        try Self.copyFixture(["built"], to: root)
        try writeLargeTasks(root.appendingPathComponent("large"))
        let before = HostileInputHarness.snapshot(root.appendingPathComponent("built"))
        let process = try PipelineExecutable.start(["build-dataset", "--train", "./large", "--canvas", "30", "--num-aug", "1000", "--threads", "1",
                                                    "--out", "built"], in: root)
        let stderrPipe = process.standardError as! Pipe
        let stderrReader = PipeReader(stderrPipe)
        func partials() -> [String] {
            ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).filter { $0.hasPrefix(".built.") }
        }
        // Wait until the build is writing into its staging folder.
        let deadline = Date().addingTimeInterval(60)
        var writing = false
        while !writing && process.isRunning && Date() < deadline {
            writing = partials().contains { name in
                let npy = root.appendingPathComponent(name).appendingPathComponent("train/all__inputs.npy").path
                let size = (try? FileManager.default.attributesOfItem(atPath: npy))?[.size] as? Int ?? 0
                return size > 0
            }
            if !writing { usleep(5_000) }
        }
        XCTAssertTrue(writing, "signal \(signal): the build wrote into a staging folder before it ended", line: line)
        kill(process.processIdentifier, signal)
        let exitDeadline = Date().addingTimeInterval(60)
        while process.isRunning && Date() < exitDeadline { usleep(10_000) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        process.waitUntilExit()
        let text = String(decoding: stderrReader.wait(), as: UTF8.self)
        XCTAssertEqual(process.terminationReason, .exit, "signal \(signal): exits (not killed by the signal): \(text)", line: line)
        XCTAssertNotEqual(process.terminationStatus, 0, text, line: line)
        XCTAssertEqual(partials(), [], "signal \(signal): no staging or old folder left: \(text)", line: line)
        XCTAssertEqual(HostileInputHarness.snapshot(root.appendingPathComponent("built")), before, "signal \(signal): the previous output is intact",
                       line: line)
    }

    func testStalePartialFoldersOfDeadBuildsAreRemoved() throws {
        let root = try sandbox()
        try Self.copyFixture(["tasks"], to: root)
        let dead = try deadProcessIdentifier()
        try root.write("left by a killed build\n", to: ".built.partial-\(dead)/train/all__inputs.npy")
        try root.write("left by a killed build\n", to: ".built.old-\(dead)/build_info.json")
        try root.write("not ours\n", to: ".notes.partial-\(dead)/notes.txt")
        try Self.mustRun(Self.buildArguments + ["--out", "built"], in: root)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root.path).sorted(), [".notes.partial-\(dead)", "built", "tasks"])
    }

    func deadProcessIdentifier() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }

    // MARK: evaluate

    func testEvaluateOutputIsCheckedBeforeTheWork() throws {
        let fixture: (URL) throws -> Void = { try Self.copyFixture(["tasks", "built", "run"], to: $0) }
        let evaluate = ["evaluate", "--dataset", "built", "--model", "run", "--threads", "1", "--quiet"]
        try HostileInputHarness.check([
            HostileCase(name: "evaluate --out a folder of the user's files", arguments: evaluate + ["--out", "mine"], errorMentions: ["mine", "notes.txt"],
                        prepare: { try fixture($0); try $0.write("my notes\n", to: "mine/notes.txt") }),
            HostileCase(name: "evaluate --out the dataset", arguments: evaluate + ["--out", "built"], errorMentions: ["built"], prepare: fixture),
            HostileCase(name: "evaluate --out the run folder", arguments: evaluate + ["--out", "run"], errorMentions: ["run"], prepare: fixture),
            HostileCase(name: "evaluate --out a regular file", arguments: evaluate + ["--out", "notes.txt"], errorMentions: ["notes.txt"],
                        prepare: { try fixture($0); try $0.write("my notes\n", to: "notes.txt") }),
            HostileCase(name: "evaluate --out under a regular file", arguments: evaluate + ["--out", "blocker/sub"], errorMentions: ["blocker"],
                        prepare: { try fixture($0); try $0.write("a file\n", to: "blocker") }),
            // The output is checked before the model is even read (so long before the inference).
            HostileCase(name: "evaluate --out cannot be created", arguments: ["evaluate", "--dataset", "built", "--model", "missing.safetensors",
                                                                           "--out", "/proc/arc-pipeline-test/sub", "--quiet"],
                        errorMentions: ["/proc/arc-pipeline-test/sub", "cannot be written"], prepare: fixture),
        ])
    }

    func testEvaluateRemovesTheOutputsOfAnOlderRun() throws {
        let root = try sandbox()
        try Self.copyFixture(["tasks", "built", "run"], to: root)
        let evaluate = ["evaluate", "--dataset", "built", "--model", "run", "--out", "sub", "--threads", "1", "--quiet"]
        try Self.mustRun(evaluate, in: root)
        XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent("sub/score.json").path), "the first run knows the solutions")
        // The same challenges without their test outputs: the second run cannot score.
        try FileManager.default.removeItem(at: root.appendingPathComponent("tasks/eval"))
        try TinyTaskFiles.write(root.appendingPathComponent("tasks/eval"), prefix: "ev", count: 2, withTestOutputs: false)
        let out = try Self.mustRun(evaluate, in: root)
        XCTAssertTrue(out.contains("score: no solutions known"), out)
        let names = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("sub").path).sorted()
        XCTAssertEqual(names, ["evaluation.json", "predictions.jsonl", "report.html", "submission.json"], "no stale score.json")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root.path).filter { $0.hasPrefix(".") }, [], "no staging folder left")
    }

    func testReportOverwritesOnlyAReport() throws {
        try HostileInputHarness.check([
            HostileCase(name: "report --out a user's file", arguments: ["report", "sub", "--out", "notes.html"], errorMentions: ["notes.html"],
                        prepare: { try Self.copyFixture(["tasks", "run", "sub"], to: $0); try $0.write("<p>my page</p>\n", to: "notes.html") }),
            HostileCase(name: "report --out a folder", arguments: ["report", "sub", "--out", "mine"], errorMentions: ["mine", "folder"],
                        prepare: { try Self.copyFixture(["tasks", "run", "sub"], to: $0); try $0.write("my notes\n", to: "mine/notes.txt") }),
            HostileCase(name: "report --out cannot be created", arguments: ["report", "sub", "--out", "/proc/arc-pipeline-test/report.html"],
                        errorMentions: ["/proc/arc-pipeline-test/report.html", "cannot be written"],
                        prepare: { try Self.copyFixture(["tasks", "run", "sub"], to: $0) }),
        ])
        let root = try sandbox()
        try Self.copyFixture(["tasks", "run", "sub"], to: root)
        try Self.mustRun(["report", "sub"], in: root)
        try Self.mustRun(["report", "sub", "--out", "sub/report.html", "--title", "again"], in: root)
        let page = try String(contentsOf: root.appendingPathComponent("sub/report.html"), encoding: .utf8)
        XCTAssertTrue(page.contains("<title>again</title>"), "its own report is replaced")
    }

    // MARK: train

    func testTrainOutputIsCheckedBeforeTheWork() throws {
        let train = ["train", "--dataset", "built", "--max-steps", "1", "--quiet"] + Self.tinyModel
        let dataset: (URL) throws -> Void = { try Self.copyFixture(["built"], to: $0) }
        try HostileInputHarness.check([
            HostileCase(name: "train --out a folder of the user's files", arguments: train + ["--out", "mine"], errorMentions: ["mine", "notes.txt"],
                        prepare: { try dataset($0); try $0.write("my notes\n", to: "mine/notes.txt") }),
            HostileCase(name: "train --out the dataset", arguments: train + ["--out", "built"], errorMentions: ["built"], prepare: dataset),
            HostileCase(name: "train --out a regular file", arguments: train + ["--out", "notes.txt"], errorMentions: ["notes.txt"],
                        prepare: { try dataset($0); try $0.write("my notes\n", to: "notes.txt") }),
            HostileCase(name: "train --out under a regular file", arguments: train + ["--out", "blocker/run"], errorMentions: ["blocker"],
                        prepare: { try dataset($0); try $0.write("a file\n", to: "blocker") }),
            HostileCase(name: "train --out cannot be created", arguments: train + ["--out", "/proc/arc-pipeline-test/run"],
                        errorMentions: ["/proc/arc-pipeline-test/run", "cannot be written"], prepare: dataset),
            HostileCase(name: "train --resume a run folder that is not one", arguments: train + ["--out", "mine", "--resume"],
                        errorMentions: ["mine"], prepare: { try dataset($0); try $0.write("my notes\n", to: "mine/notes.txt") }),
        ])
    }

    func testTwoTrainingsIntoOneRunFolder() throws {
        let root = try sandbox()
        try Self.copyFixture(["built"], to: root)
        let train = ["train", "--dataset", "built", "--out", "run", "--max-steps", "100000", "--checkpoint-interval", "5", "--quiet"] + Self.tinyModel
        let first = try PipelineExecutable.start(train, in: root)
        defer { if first.isRunning { kill(first.processIdentifier, SIGKILL); first.waitUntilExit() } }
        // Wait until the first one is training (it has written its first checkpoint).
        let deadline = Date().addingTimeInterval(60)
        while first.isRunning && Date() < deadline && !FileManager.default.fileExists(atPath: root.appendingPathComponent("run/checkpoints/latest").path) {
            usleep(10_000)
        }
        XCTAssertTrue(first.isRunning, "the first training runs")
        let resume = ["train", "--dataset", "built", "--out", "run", "--resume", "--threads", "1", "--quiet"]
        for second in [train, resume] {
            let (status, _, stderr) = try PipelineExecutable.run(second, in: root)
            XCTAssertNotEqual(status, 0, "a second training into the same folder is refused: \(stderr)")
            let errorLines = stderr.split(separator: "\n").filter { $0.lowercased().hasPrefix("error:") }
            XCTAssertEqual(errorLines.count, 1, stderr)
            let line = String(errorLines.first ?? "")
            XCTAssertTrue(line.contains(root.appendingPathComponent("run").path) && line.contains("PID \(first.processIdentifier)"),
                          "names the folder and the holder: \(line)")
        }
        // A holder killed without a chance to clean up does not block the next run.
        kill(first.processIdentifier, SIGKILL)
        first.waitUntilExit()
        XCTAssertTrue(FileManager.default.fileExists(atPath: root.appendingPathComponent("run/.arc-pipeline.lock").path), "the lock file stays")
        let out = try Self.mustRun(resume + ["--max-steps", "100000", "--time-budget", "2s"], in: root)
        XCTAssertTrue(out.contains("trained steps"), out)
    }

    func testFreshTrainingClearsAnEarlierRunWithoutCheckpoints() throws {
        let root = try sandbox()
        try Self.copyFixture(["built"], to: root)
        // An earlier run that stopped before its first checkpoint: its config and metrics only.
        try Self.copyFixture(["run"], to: root)
        try FileManager.default.removeItem(at: root.appendingPathComponent("run/checkpoints"))
        try root.write("{\"step\": 999}\n", to: "run/metrics.jsonl")
        try Self.mustRun(["train", "--dataset", "built", "--out", "run", "--max-steps", "2", "--quiet"] + Self.tinyModel, in: root)
        let metrics = try String(contentsOf: root.appendingPathComponent("run/metrics.jsonl"), encoding: .utf8)
        XCTAssertFalse(metrics.contains("\"step\": 999"), "the new run's metrics only: \(metrics)")
    }

    // MARK: train-eval

    func testTrainEvalKeepsAUsersFileInItsRunFolder() throws {
        let arguments = ["train-eval", "--data-dir", "data", "--dataset", "arc2", "--canvas", "4", "--num-aug", "1", "--max-steps", "2",
                         "--out", "sub"] + Self.tinyModel
        try HostileInputHarness.check([
            HostileCase(name: "train-eval --retrain over a run folder holding a user's file", arguments: arguments + ["--retrain"],
                        errorMentions: ["runs/", "notes.txt"],
                        prepare: { root in
                            try TinyTaskFiles.write(root.appendingPathComponent("data/arc-agi-2/training"), prefix: "tr", count: 4, withTestOutputs: true)
                            try TinyTaskFiles.write(root.appendingPathComponent("data/arc-agi-2/evaluation"), prefix: "ev", count: 2, withTestOutputs: true)
                            try Self.mustRun(arguments, in: root)
                            let runs = try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent("runs").path)
                            guard runs.count == 1 else { throw RunFailure(description: "expected one run folder, found \(runs)") }
                            try root.write("my notes\n", to: "runs/\(runs[0])/notes.txt")
                        }),
        ])
    }
}
