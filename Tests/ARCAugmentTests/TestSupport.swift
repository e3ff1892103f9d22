// Shared helpers for the ARCAugment tests: random grids, temporary folders, running python3
// (numpy cross-checks), and locating ARC data ($ARC_DATA_DIR, ./arc-data, or the offline mirror
// fetched with ARCFetch into a temporary folder). Missing data or python3 make tests FAIL, never skip.
import ARCAugment
import ARCCore
import ARCFetch
import Foundation
import XCTest

enum TestSupport {
    static func randomGrid(rows: Int, cols: Int, colours: Int = 10, using rng: inout Xoshiro256StarStar) -> Grid {
        Grid(rows: rows, cols: cols, cells: (0..<(rows * cols)).map { _ in UInt8(rng.nextInt(below: colours)) })
    }

    static func temporaryDirectory(_ label: String) throws -> URL {
        let url = FileManager.default.temporaryDirectory
            .appendingPathComponent("arcaugment-tests-\(getpid())-\(label)-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    struct Failure: Error, CustomStringConvertible {
        let description: String
    }

    /// Runs `python3 -c script` with `arguments`; returns stdout. Throws (failing the test) on errors.
    static func python(_ script: String, _ arguments: [String] = []) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", script] + arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch {
            throw Failure(description: "cannot run python3 (needed with numpy for this check): \(error)")
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "python3 failed (status \(process.terminationStatus)): \(String(decoding: stderr, as: UTF8.self))")
        }
        return String(decoding: stdout, as: UTF8.self)
    }

    nonisolated(unsafe) static var cachedDataDirectory: URL?
    static let dataLock = NSLock()

    /// A folder in the fetched layout (arc-agi-1/, concept-arc/, ...): $ARC_DATA_DIR if set,
    /// else ./arc-data when it holds arc-agi-1 and concept-arc, else the offline mirror
    /// ($ARC_MIRROR_DIR or $ARC_MIRROR, default ../shared/arc-mirror beside the repository) fetched once per test
    /// process with ARCFetch's Fetcher (copy from the folder, checksum, unpack) into a temp folder.
    static func arcDataDirectory() throws -> URL {
        dataLock.lock()
        defer { dataLock.unlock() }
        if let cachedDataDirectory { return cachedDataDirectory }
        let env = ProcessInfo.processInfo.environment
        if let dir = env["ARC_DATA_DIR"], !dir.isEmpty {
            let url = URL(fileURLWithPath: dir)
            guard FileManager.default.fileExists(atPath: url.appendingPathComponent("arc-agi-1/training").path),
                  FileManager.default.fileExists(atPath: url.appendingPathComponent("concept-arc").path) else {
                throw Failure(description: "ARC_DATA_DIR=\(dir) lacks arc-agi-1/training or concept-arc; run `arc-pipeline fetch` into it")
            }
            cachedDataDirectory = url
            return url
        }
        // The default data folder of `arc-pipeline fetch`, relative to the package root.
        let local = URL(fileURLWithPath: FileManager.default.currentDirectoryPath).appendingPathComponent("arc-data")
        if FileManager.default.fileExists(atPath: local.appendingPathComponent("arc-agi-1/training").path),
           FileManager.default.fileExists(atPath: local.appendingPathComponent("concept-arc").path) {
            cachedDataDirectory = local
            return local
        }
        let besideRepository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/arc-mirror")
        let mirror = env["ARC_MIRROR_DIR"].map { URL(fileURLWithPath: $0) } ?? env["ARC_MIRROR"].map { URL(fileURLWithPath: $0) } ?? besideRepository
        let arc1 = mirror.appendingPathComponent("ARC-AGI-master.zip"), concept = mirror.appendingPathComponent("ConceptARC-main.zip")
        guard FileManager.default.fileExists(atPath: arc1.path), FileManager.default.fileExists(atPath: concept.path) else {
            throw Failure(description: "no ARC data for this test: run `arc-pipeline fetch` (into ./arc-data), set ARC_DATA_DIR to a fetched data folder, "
                + "or ARC_MIRROR_DIR to a folder with ARC-AGI-master.zip and ConceptARC-main.zip (looked in \(mirror.path))")
        }
        // The real fetch stage (ARCFetch), pointed at the offline mirror, into a temporary folder
        // that later test runs reuse (it is only renamed into place once complete).
        let fm = FileManager.default
        let root = fm.temporaryDirectory.appendingPathComponent("arc-pipeline-tests-arc1-data")
        if !fm.fileExists(atPath: root.appendingPathComponent("arc-agi-1/manifest.json").path)
            || !fm.fileExists(atPath: root.appendingPathComponent("concept-arc/manifest.json").path) {
            let staging = try temporaryDirectory("arcdata")
            let fetcher = Fetcher(dataDirectory: staging, log: { _ in })
            for source in [DataSource.arcAGI1, DataSource.conceptARC] {
                let plan = try fetcher.plan(source, mirror: mirror.path, kaggleSource: nil, pinnedSHA256: nil)
                _ = try fetcher.fetch(plan)
            }
            try? fm.removeItem(at: root)
            if (try? fm.moveItem(at: staging, to: root)) == nil { try? fm.removeItem(at: staging) }  // another run won the race
        }
        cachedDataDirectory = root
        return root
    }

    /// Every regular file below `directory`, relative path -> contents.
    static func fileContents(_ directory: URL) throws -> [String: Data] {
        var result = [String: Data]()
        let base = directory.standardizedFileURL.path
        guard let e = FileManager.default.enumerator(at: directory, includingPropertiesForKeys: [.isRegularFileKey]) else { return result }
        for case let url as URL in e {
            var isDir: ObjCBool = false
            _ = FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir)
            if isDir.boolValue { continue }
            result[String(url.standardizedFileURL.path.dropFirst(base.count))] = try Data(contentsOf: url)
        }
        return result
    }
}
