// Tools/bench/learn (the learning benchmark, README "What a CPU budget buys") as a user runs it,
// with --dry-run: the arc-pipeline commands it would run for --extra-train (training-role sets
// beside the development set's demonstrations), and its refusal of a source that holds a task of
// the set (whose test outputs would then be trained on). Runs python3 and the built executable.
import Foundation
import TestHelpers
import XCTest

final class LearnScriptTests: XCTestCase {
    /// Runs `python3 Tools/bench/learn ARGUMENTS --dry-run` with the built arc-pipeline.
    func learn(_ arguments: [String], dataDirectory: URL, out: URL) throws -> (status: Int32, output: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", TestPaths.repoRoot.appendingPathComponent("Tools/bench/learn").path] + arguments
            + ["--data-dir", dataDirectory.path, "--arc-pipeline", try PipelineExecutable.url().path, "--out", out.path, "--dry-run"]
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    /// A data folder with two fetched-looking sources: `extra` (tasks x1, x2 in a sub-folder, and
    /// its manifest) and `leaky` (a copy of dev10's first task, 007bbfb7).
    func makeDataFolder() throws -> URL {
        let root = try TestPaths.temporaryDirectory()
        let task = Data(#"{"train": [{"input": [[1]], "output": [[2]]}], "test": [{"input": [[1]], "output": [[2]]}]}"#.utf8)
        for (path, data) in [("extra/Concept/x1.json", task), ("extra/Concept/x2.json", task), ("extra/manifest.json", Data("{}".utf8)),
                             ("leaky/007bbfb7.json", task)] {
            let url = root.appendingPathComponent("data").appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try data.write(to: url)
        }
        return root
    }

    /// The printed command line that starts with `$ <arc-pipeline> VERB`.
    func commandLine(_ verb: String, in output: String) throws -> String {
        try XCTUnwrap(output.split(separator: "\n").first { $0.hasPrefix("$ ") && $0.contains("arc-pipeline \(verb) ") }.map(String.init),
                      "no `\(verb)` command in:\n\(output)")
    }

    /// The value after `option` in a printed command line.
    func value(of option: String, in line: String) -> String? {
        let words = line.split(separator: " ").map(String.init)
        guard let k = words.firstIndex(of: option), k + 1 < words.count else { return nil }
        return words[k + 1]
    }

    func testExtraTrainAddsTheSourceAndItsTasks() throws {
        let root = try makeDataFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let out = root.appendingPathComponent("out")
        let (status, output) = try learn(["--set", "dev10", "--extra-train", "extra"], dataDirectory: root.appendingPathComponent("data"), out: out)
        XCTAssertEqual(status, 0, output)
        let fetch = try commandLine("fetch", in: output), build = try commandLine("build-dataset", in: output)
        XCTAssertTrue(fetch.hasSuffix(" arc-agi-1 extra"), "fetch gets the added source too: \(fetch)")
        XCTAssertEqual(value(of: "--train", in: build), "extra")
        XCTAssertEqual(value(of: "--eval", in: build), "arc-agi-1:training")
        let tasks = try XCTUnwrap(value(of: "--tasks", in: build)).split(separator: ",").map(String.init)
        XCTAssertEqual(tasks.count, 178 + 2, "dev10's 178 tasks and the source's 2 (its manifest is not a task)")
        XCTAssertTrue(tasks.contains("x1") && tasks.contains("x2") && tasks.contains("007bbfb7"))
        XCTAssertFalse(FileManager.default.fileExists(atPath: out.path), "a dry run writes nothing")
    }

    func testWithoutExtraTrainOnlyTheSetIsBuilt() throws {
        let root = try makeDataFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        let (status, output) = try learn(["--set", "dev10"], dataDirectory: root.appendingPathComponent("data"), out: root.appendingPathComponent("out"))
        XCTAssertEqual(status, 0, output)
        let build = try commandLine("build-dataset", in: output)
        XCTAssertNil(value(of: "--train", in: build), build)
        XCTAssertEqual(try XCTUnwrap(value(of: "--tasks", in: build)).split(separator: ",").count, 178)
    }

    func testASourceHoldingATaskOfTheSetIsRefused() throws {
        let root = try makeDataFolder()
        defer { try? FileManager.default.removeItem(at: root) }
        for source in ["leaky", "extra,leaky"] {
            let (status, output) = try learn(["--set", "dev10", "--extra-train", source], dataDirectory: root.appendingPathComponent("data"),
                                             out: root.appendingPathComponent("out"))
            XCTAssertNotEqual(status, 0, output)
            XCTAssertTrue(output.contains("--extra-train leaky holds 1 task(s) of the set (007bbfb7)"), output)
            XCTAssertFalse(output.contains("$ "), "nothing is run or printed as run:\n\(output)")
        }
        let (status, output) = try learn(["--set", "dev10", "--extra-train", "missing"], dataDirectory: root.appendingPathComponent("data"),
                                         out: root.appendingPathComponent("out"))
        XCTAssertNotEqual(status, 0, output)
        XCTAssertTrue(output.contains("--extra-train missing:") && output.contains("fetch it first"), output)
    }
}
