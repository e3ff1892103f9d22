// arc-bench refuses a bad command line with one clear line naming the option and exit code 2, before
// any benchmark runs (it used to trap on a missing value and silently replace unparsable numbers with
// defaults).
import Foundation
import TestHelpers
import XCTest

final class ArcBenchArgumentsTests: XCTestCase {
    func testBadArgumentsAreNamed() throws {
        let bench = try PipelineExecutable.url().deletingLastPathComponent().appendingPathComponent("arc-bench")
        XCTAssertTrue(FileManager.default.isExecutableFile(atPath: bench.path), "arc-bench not built beside arc-pipeline at \(bench.path)")
        let cases: [([String], String)] = [
            (["sgemm", "--threads"], "Missing value for '--threads <threads>'"),
            (["sgemm", "--threads", "x"], "'--threads <threads>': must be an integer in 0...256"),
            (["sgemm", "--threads", "100000"], "--threads must be an integer in 0...256"),
            (["sgemm", "--repeats", "0"], "--repeats must be an integer in 1...1000"),
            (["sgemm", "--seed", "-1"], "'--seed <seed>': must be an integer in 0...18446744073709551615"),
            (["step", "--batch", "0"], "--batch must be an integer in 1...4096"),
            (["step", "--side", "31"], "--side must be an integer in 1...30"),
            (["all", "--side", "x"], "'--side <side>': must be an integer in 1...30"),
            (["step", "--preset", "huge"], "'--preset <preset>'"),
            (["step", "--precision", "fp16"], "'--precision <precision>'"),
            (["micro", "--query-tile", "0"], "--query-tile must be an integer in 1...960"),
            (["micro", "--key-tile", "961"], "--key-tile must be an integer in 1...960"),
            (["micro", "--forward-key-tile", "0"], "--forward-key-tile must be an integer in 1...960"),
            (["micro", "--forward-key-tile", "99999999999999999999"], "'--forward-key-tile <forward-key-tile>': must be an integer in 1...960"),
            (["export-check"], "Missing expected argument '<directory>'"),
            (["bogus"], "Unexpected argument 'bogus'"),
        ]
        for (arguments, expected) in cases {
            let process = Process()
            process.executableURL = bench
            process.arguments = arguments
            let errors = Pipe(), output = Pipe()
            process.standardError = errors
            process.standardOutput = output
            try process.run()
            let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            let stdout = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            XCTAssertEqual(stdout, "", "\(arguments): no benchmark runs on a bad command line")
            XCTAssertEqual(process.terminationReason, .exit, "\(arguments): trapped\n\(stderr)")
            XCTAssertEqual(process.terminationStatus, 2, "\(arguments)\n\(stderr)")
            let lines = stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }
            XCTAssertEqual(lines.count, 1, "\(arguments)\n\(stderr)")
            XCTAssertTrue(lines.first?.contains(expected) ?? false, "\(arguments): \(stderr)")
        }
    }
}
