// Golden digests of whole built-dataset folders in the single-canvas layout (`--canvas 30`, the
// default, and a small canvas): bucket mode must leave these bytes exactly as they were. The
// digests were taken from the builder before canvas buckets existed (the same command on the same
// task files), so any change to the reference layout's bytes fails here.
import ARCFetch
import Foundation
import TestHelpers
import XCTest

final class LegacyLayoutGoldenTests: XCTestCase {
    /// A cell pattern, so the task files are easy to reproduce anywhere.
    static func grid(_ rows: Int, _ cols: Int, _ k: Int) -> String {
        "[" + (0..<rows).map { i in "[" + (0..<cols).map { j in String((i * 7 + j * 3 + k) % 10) }.joined(separator: ",") + "]" }
            .joined(separator: ",") + "]"
    }

    /// tasks/train: three tasks (one with 30x30 grids, left out on a small canvas); tasks/eval: one
    /// task with a known and an unknown test output.
    static func writeTasks(_ root: URL) throws {
        func pair(_ ir: Int, _ ic: Int, _ or: Int, _ oc: Int, _ k: Int) -> String {
            "{\"input\":\(grid(ir, ic, k)),\"output\":\(grid(or, oc, k + 1))}"
        }
        let tasks = [
            ("train/a1", "{\"train\":[\(pair(3, 4, 4, 3, 1)),\(pair(2, 2, 2, 2, 3))],\"test\":[\(pair(5, 1, 1, 5, 5))]}"),
            ("train/a2", "{\"train\":[\(pair(30, 30, 30, 30, 1))],\"test\":[\(pair(12, 3, 3, 12, 3))]}"),
            ("train/a3", "{\"train\":[\(pair(1, 1, 1, 1, 0))],\"test\":[\(pair(2, 3, 2, 3, 2))]}"),
            ("eval/b1", "{\"train\":[\(pair(4, 4, 4, 4, 1)),\(pair(6, 2, 6, 2, 3))],\"test\":[\(pair(3, 3, 3, 3, 5)),{\"input\":\(grid(2, 5, 7))}]}"),
        ]
        for (name, text) in tasks {
            let url = root.appendingPathComponent("tasks/\(name).json")
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try Data(text.utf8).write(to: url)
        }
    }

    /// SHA-256 over every file below `folder` in path order: "<relative path>\n" then its bytes.
    static func digest(_ folder: URL) throws -> String {
        let files = try TestSupport.fileContents(folder)
        var hasher = SHA256Hasher()
        for path in files.keys.sorted() {
            hasher.update(Data((path + "\n").utf8))
            hasher.update(files[path]!)
        }
        return hasher.finalizeHex()
    }

    func testSingleCanvasFoldersKeepTheirBytes() throws {
        let root = try TestSupport.temporaryDirectory("golden")
        defer { try? FileManager.default.removeItem(at: root) }
        try Self.writeTasks(root)
        let golden = [
            "30": "a431e44d49de9365ef1935ec63c963e066565de74f7801d0e0f603f9e0e4fdc8",
            "12": "130f352eb72d5176f47a6f07620ff75f6d78ac82c59ef9a3dcbb918ad76cbb3b",
        ]
        for canvas in ["30", "12"] {
            let run = try PipelineExecutable.run(["build-dataset", "--train", "./tasks/train", "--eval", "./tasks/eval", "--num-aug", "7",
                                                  "--seed", "5", "--canvas", canvas, "--out", "out\(canvas)", "--quiet"], in: root)
            XCTAssertEqual(run.status, 0, run.stderr)
            XCTAssertEqual(try Self.digest(root.appendingPathComponent("out\(canvas)")), golden[canvas], "--canvas \(canvas)")
        }
    }
}
