// Table-driven runner for hostile inputs against the `arc-pipeline` executable: each case prepares
// files in a fresh sandbox, runs one command, and requires a clean refusal (non-zero exit, no
// trap, exactly one `Error:` line naming the culprit) and an unchanged disk (every file that was
// there keeps its bytes, nothing appears outside the paths the case declares).
import Foundation
import TestHelpers
import XCTest

struct HostileCase {
    /// What the case feeds, for failure messages.
    var name: String
    /// Arguments after `arc-pipeline`; run with the sandbox as the working directory.
    var arguments: [String]
    /// Substrings the `Error:` line must contain (case-insensitive): the file, task or field it names.
    var errorMentions: [String]
    /// Creates the case's input files in the sandbox (the working directory).
    var prepare: (URL) throws -> Void = { _ in }
    /// Relative path prefixes where files may appear or change (e.g. a lock file); none by default.
    var mayChange: [String] = []
    /// Extra environment variables for the run.
    var environment: [String: String] = [:]
    /// Seconds before the run is killed and the case fails.
    var timeout: TimeInterval = 120
}

enum HostileInputHarness {
    /// Lines that mean the program trapped or dumped an internal error instead of refusing cleanly.
    static let trapMarkers = ["Fatal error", "precondition", "Stack dump", "EncodingError", "DecodingError",
                              "NSCocoaErrorDomain", "Illegal instruction", "Segmentation fault", "Unexpectedly found nil"]

    /// A fresh sandbox (the working directory of the run) holding `outside/sentinel.txt`; cases put
    /// their targets in subfolders, so anything written beside them shows up in the snapshot.
    static func makeSandbox() throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("arc-hostile-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: root.appendingPathComponent("outside"), withIntermediateDirectories: true)
        try Data("keep me\n".utf8).write(to: root.appendingPathComponent("outside/sentinel.txt"))
        return root
    }

    /// Relative path -> the bytes (files), "dir" (folders) or "link:target" (symlinks).
    static func snapshot(_ root: URL) -> [String: Data] {
        var result: [String: Data] = [:]
        let fm = FileManager.default
        guard let enumerator = fm.enumerator(atPath: root.path) else { return result }
        while let relative = enumerator.nextObject() as? String {
            let path = root.appendingPathComponent(relative).path
            if let target = try? fm.destinationOfSymbolicLink(atPath: path) {
                result[relative] = Data("link:\(target)".utf8)
                continue
            }
            var isDirectory: ObjCBool = false
            guard fm.fileExists(atPath: path, isDirectory: &isDirectory) else { continue }
            if isDirectory.boolValue {
                result[relative] = Data("dir".utf8)
            } else if let data = fm.contents(atPath: path) {
                result[relative] = data
            }
        }
        return result
    }

    /// Runs every case in its own sandbox and checks the refusal and the disk.
    static func check(_ cases: [HostileCase], file: StaticString = #filePath, line: UInt = #line) throws {
        for hostile in cases {
            let root = try makeSandbox()
            defer { try? FileManager.default.removeItem(at: root) }
            try hostile.prepare(root)
            let before = snapshot(root)

            var environment = ProcessInfo.processInfo.environment
            for (key, value) in hostile.environment { environment[key] = value }
            let process = try PipelineExecutable.start(hostile.arguments, in: root, environment: environment)
            let stdoutPipe = process.standardOutput as! Pipe, stderrPipe = process.standardError as! Pipe
            let outReader = PipeReader(stdoutPipe), errReader = PipeReader(stderrPipe)
            let deadline = Date().addingTimeInterval(hostile.timeout)
            while process.isRunning && Date() < deadline { usleep(10_000) }
            if process.isRunning {
                process.terminate()
                XCTFail("\(hostile.name): still running after \(Int(hostile.timeout)) s", file: file, line: line)
            }
            process.waitUntilExit()
            let out = outReader.wait(), err = errReader.wait()
            let stderr = String(decoding: err, as: UTF8.self), stdout = String(decoding: out, as: UTF8.self)
            let context = "\(hostile.name): arc-pipeline \(hostile.arguments.joined(separator: " "))\n--- stderr\n\(stderr)--- stdout (tail)\n\(stdout.suffix(600))"

            XCTAssertEqual(process.terminationReason, .exit, "\(hostile.name): killed by signal \(process.terminationStatus) (a trap)\n\(context)", file: file, line: line)
            XCTAssertNotEqual(process.terminationStatus, 0, "\(hostile.name): exit 0 on hostile input\n\(context)", file: file, line: line)
            for marker in trapMarkers where (stderr + stdout).contains(marker) {
                XCTFail("\(hostile.name): output contains '\(marker)'\n\(context)", file: file, line: line)
            }
            let errorLines = stderr.split(separator: "\n").filter { $0.lowercased().hasPrefix("error:") }
            XCTAssertEqual(errorLines.count, 1, "\(hostile.name): expected exactly one 'Error:'/'error:' line\n\(context)", file: file, line: line)
            if let errorLine = errorLines.first?.lowercased() {
                for mention in hostile.errorMentions where !errorLine.contains(mention.lowercased()) {
                    XCTFail("\(hostile.name): the error line does not name '\(mention)'\n\(context)", file: file, line: line)
                }
            }

            // The disk: what was there is intact; nothing new outside the declared prefixes.
            let after = snapshot(root)
            func declared(_ path: String) -> Bool { hostile.mayChange.contains { path == $0 || path.hasPrefix($0) } }
            for (path, bytes) in before where !declared(path) {
                XCTAssertEqual(after[path], bytes, "\(hostile.name): \(path) was changed or removed\n\(context)", file: file, line: line)
            }
            for path in after.keys where before[path] == nil && !declared(path) {
                XCTFail("\(hostile.name): \(path) appeared\n\(context)", file: file, line: line)
            }
        }
    }
}

/// Small file helpers for preparing cases.
extension URL {
    func write(_ text: String, to relative: String) throws {
        let url = appendingPathComponent(relative)
        try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
        try Data(text.utf8).write(to: url)
    }
}

/// Reads a pipe to its end on a background thread (so a chatty child never blocks on a full pipe).
final class PipeReader: @unchecked Sendable {
    private var data = Data()
    private let done = DispatchSemaphore(value: 0)

    init(_ pipe: Pipe) {
        DispatchQueue.global().async {
            self.data = pipe.fileHandleForReading.readDataToEndOfFile()
            self.done.signal()
        }
    }

    /// Everything the pipe carried, once the writer closed it.
    func wait() -> Data {
        done.wait()
        return data
    }
}
