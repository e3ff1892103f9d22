// Tiny synthetic ARC task files and a sandbox folder for running the `arc-pipeline` executable
// on them (recolour 1 -> 2 on grids up to 3x3).
import Foundation
import TestHelpers
import XCTest

enum TinyTaskFiles {
    /// `count` task files `<prefix><k>.json` in `directory`, each with two demonstrations and one test pair.
    static func write(_ directory: URL, prefix: String, count: Int, withTestOutputs: Bool = true) throws {
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for t in 0..<count {
            func pair(_ k: Int) -> String {
                let rows = 1 + (t + k) % 3, cols = 1 + (t * 2 + k) % 3
                let input = (0..<rows).map { r in (0..<cols).map { c in (r + c + k) % 2 } }
                let output = input.map { $0.map { $0 == 1 ? 2 : $0 } }
                return "{\"input\": \(input), \"output\": \(output)}"
            }
            let test = withTestOutputs ? pair(9) : "{\"input\": [[1]]}"
            try Data("{\"train\": [\(pair(0)), \(pair(1))], \"test\": [\(test)]}".utf8)
                .write(to: directory.appendingPathComponent("\(prefix)\(t).json"))
        }
    }

    /// A fresh folder under the temporary directory.
    static func sandbox(_ name: String) throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("arc-\(name)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
        return root
    }

    /// Runs the executable in `directory`; fails the test on a non-zero exit or a signal.
    @discardableResult
    static func run(_ arguments: [String], in directory: URL, file: StaticString = #filePath, line: UInt = #line) throws
        -> (status: Int32, stdout: String, stderr: String) {
        let result = try PipelineExecutable.run(arguments, in: directory)
        XCTAssertEqual(result.status, 0, "arc-pipeline \(arguments.joined(separator: " ")) failed:\n\(result.stderr)", file: file, line: line)
        return result
    }
}
