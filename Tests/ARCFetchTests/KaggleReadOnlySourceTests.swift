// `fetch kaggle --kaggle-source DIR` from a read-only folder, as Kaggle mounts the competition data
// under /kaggle/input: the installed copy must be the program's own (owner-writable files and
// folders), so a later `fetch --force` or a non-root user can replace it, and the source is untouched.
import ARCCore
import ARCFetch
import Foundation
import TestHelpers
import XCTest

final class KaggleReadOnlySourceTests: XCTestCase {
    private let task = #"{"k1": {"train": [{"input": [[1, 2]], "output": [[2, 1]]}], "test": [{"input": [[3, 4]]}]}}"#

    private func mode(_ url: URL) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: url.path)[.posixPermissions] as? NSNumber)?.intValue ?? -1
    }

    func testReadOnlyFolderInstallsOwnerWritableCopyAndFetchesAgain() throws {
        let fm = FileManager.default
        let root = try TestPaths.temporaryDirectory()
        let source = root.appendingPathComponent("arc-prize-2025")
        defer {
            try? fm.setAttributes([.posixPermissions: 0o755], ofItemAtPath: source.path)
            try? fm.removeItem(at: root)
        }
        try fm.createDirectory(at: source, withIntermediateDirectories: true)
        let challenges = source.appendingPathComponent("arc-agi_test_challenges.json")
        try Data(task.utf8).write(to: challenges)
        try fm.setAttributes([.posixPermissions: 0o444], ofItemAtPath: challenges.path)
        try fm.setAttributes([.posixPermissions: 0o555], ofItemAtPath: source.path)

        let dataDir = root.appendingPathComponent("data")
        let fetcher = Fetcher(dataDirectory: dataDir, log: { _ in })
        let plan = try fetcher.plan(.kaggle, mirror: nil, kaggleSource: source.path, pinnedSHA256: nil)
        let first = try fetcher.fetch(plan).manifest
        XCTAssertEqual(first.splits.map(\.name), ["test"])
        let installed = dataDir.appendingPathComponent("kaggle")
        for item in try fm.contentsOfDirectory(atPath: installed.path) {
            XCTAssertEqual(try mode(installed.appendingPathComponent(item)) & 0o200, 0o200, "\(item) is not owner-writable")
        }
        XCTAssertEqual(try mode(installed) & 0o700, 0o700)
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: dataDir.path).sorted(), ["kaggle"], "no work folder left behind")

        fetcher.force = true
        let second = try fetcher.fetch(plan).manifest
        XCTAssertEqual(second.sha256, first.sha256)
        XCTAssertEqual(try mode(challenges), 0o444)
        XCTAssertEqual(try mode(source), 0o555)
        XCTAssertEqual(try Data(contentsOf: challenges), Data(task.utf8))
    }
}
