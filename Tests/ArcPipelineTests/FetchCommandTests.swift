// The `arc-pipeline fetch` executable: failures exit non-zero with one clear line.
import Foundation
import XCTest
import TestHelpers

final class FetchCommandTests: XCTestCase {
    private func run(_ args: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        var env = ProcessInfo.processInfo.environment
        env.removeValue(forKey: "ARC_MIRROR")
        return try PipelineExecutable.run(args, environment: env)
    }

    func testMissingArchiveFailsWithOneLine() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.add("SHA256SUMS", Data("\(String(repeating: "0", count: 64))  ARC-AGI-master.zip\n".utf8))
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let r = try run(["fetch", "--data-dir", dir.path, "--mirror", server.baseURL, "--retries", "1", "arc-agi-1"])
        XCTAssertNotEqual(r.status, 0)
        let errorLines = r.stderr.split(separator: "\n").filter { $0.hasPrefix("Error:") }
        XCTAssertEqual(errorLines.count, 1, r.stderr)
        XCTAssertTrue(errorLines.first?.contains("HTTP 404") ?? false, r.stderr)
        XCTAssertTrue(errorLines.first?.contains("ARC-AGI-master.zip") ?? false, r.stderr)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("arc-agi-1").path))
    }

    func testMirrorFolderFetchThenUpToDate() throws {
        let mirror = try TestPaths.mirror()
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let first = try run(["fetch", "--data-dir", dir.path, "--mirror", mirror.path, "concept-arc"])
        XCTAssertEqual(first.status, 0, first.stderr)
        XCTAssertTrue(first.stdout.contains("concept-arc   corpus         160"), first.stdout)
        let second = try run(["fetch", "--data-dir", dir.path, "--mirror", mirror.path, "concept-arc"])
        XCTAssertEqual(second.status, 0, second.stderr)
        XCTAssertTrue(second.stdout.contains("concept-arc: up to date"), second.stdout)
    }

    func testUnknownSourceIsRejected() throws {
        let r = try run(["fetch", "arc-agi-9"])
        XCTAssertNotEqual(r.status, 0)
        XCTAssertTrue(r.stderr.contains("unknown source 'arc-agi-9'"), r.stderr)
    }
}
