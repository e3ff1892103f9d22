// The `arc-pipeline` executable that `swift test` builds beside the test bundle, and running it.
// A missing executable throws (the test fails; it is never skipped).
import Foundation

public enum PipelineExecutable {
    public struct Missing: Error, CustomStringConvertible {
        public let description: String
    }

    public static func url() throws -> URL {
        let testBinary = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        let url = testBinary.deletingLastPathComponent().appendingPathComponent("arc-pipeline")
        guard FileManager.default.isExecutableFile(atPath: url.path) else {
            throw Missing(description: "arc-pipeline executable not found at \(url.path) (build the package first)")
        }
        return url
    }

    /// Starts the executable with stdout and stderr on pipes.
    public static func start(_ arguments: [String], in directory: URL? = nil, environment: [String: String]? = nil) throws -> Process {
        let process = Process()
        process.executableURL = try url()
        process.arguments = arguments
        if let directory { process.currentDirectoryURL = directory }
        if let environment { process.environment = environment }
        process.standardOutput = Pipe()
        process.standardError = Pipe()
        try process.run()
        return process
    }

    /// Runs the executable to the end.
    public static func run(_ arguments: [String], in directory: URL? = nil, environment: [String: String]? = nil) throws
        -> (status: Int32, stdout: String, stderr: String) {
        let process = try start(arguments, in: directory, environment: environment)
        let out = (process.standardOutput as! Pipe).fileHandleForReading.readDataToEndOfFile()
        let err = (process.standardError as! Pipe).fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        return (process.terminationStatus, String(decoding: out, as: UTF8.self), String(decoding: err, as: UTF8.self))
    }
}
