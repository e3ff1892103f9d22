// Folders for tests that read or write files: the offline ARC mirror (shared by the ARCFetch tests
// and the `arc-pipeline fetch` tests) and fresh temporary folders.
import Foundation
import XCTest

public enum TestPaths {
    /// The repository root (three levels above this file).
    public static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// The offline ARC mirror ($ARC_MIRROR, else shared/arc-mirror beside the repository's folder);
    /// fails the test when it is missing.
    public static func mirror(file: StaticString = #filePath, line: UInt = #line) throws -> URL {
        let candidates = [ProcessInfo.processInfo.environment["ARC_MIRROR"].map { URL(fileURLWithPath: $0) },
                          repoRoot.deletingLastPathComponent().appendingPathComponent("shared/arc-mirror")].compactMap { $0 }
        for c in candidates where FileManager.default.fileExists(atPath: c.appendingPathComponent("SHA256SUMS").path) { return c }
        XCTFail("offline ARC mirror not found (looked in \(candidates.map(\.path))); tests need ../shared/arc-mirror", file: file, line: line)
        throw CocoaError(.fileNoSuchFile)
    }

    public static func temporaryDirectory(_ name: String = #function) throws -> URL {
        let safe = name.filter { $0.isLetter || $0.isNumber }
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("arcfetch-\(safe)-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }
}
