// End-to-end fetch of every source from the offline mirror served over loopback HTTP,
// the same code path as the real URLs; failure cases leave nothing installed.
import ARCCore
import ARCFetch
import Foundation
import TestHelpers
import XCTest

final class FetcherTests: XCTestCase {
    private func serveMirror() throws -> LoopbackHTTPServer {
        let mirror = try TestPaths.mirror()
        let server = try LoopbackHTTPServer()
        for name in ["ARC-AGI-master.zip", "ARC-AGI-2-main.zip", "ConceptARC-main.zip", "arc-prize-2025.zip", "SHA256SUMS"] {
            server.add(name, try Data(contentsOf: mirror.appendingPathComponent(name)))
        }
        return server
    }

    private func fetcher(_ dataDir: URL) -> Fetcher {
        var o = DownloadOptions()
        o.quiet = true
        o.initialBackoff = 0.05
        o.maxAttempts = 3
        return Fetcher(dataDirectory: dataDir, downloader: Downloader(options: o), log: { _ in })
    }

    private func counts(_ m: FetchManifest) -> [String: [Int]] {
        Dictionary(uniqueKeysWithValues: m.splits.map { ($0.name, [$0.tasks, $0.testInputs]) })
    }

    func testEverySourceOverHTTPThenUpToDate() throws {
        let server = try serveMirror()
        defer { server.stop() }
        let dataDir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dataDir) }
        let f = fetcher(dataDir)
        var manifests = [String: FetchManifest]()
        for source in DataSource.all {
            let plan = try f.plan(source, mirror: server.baseURL, kaggleSource: nil, pinnedSHA256: nil)
            XCTAssertNotNil(plan.expectedSHA256, "mirror SHA256SUMS gives a digest for \(source.name)")
            guard case let .installed(m) = try f.fetch(plan) else { return XCTFail("\(source.name) should install") }
            manifests[source.name] = m
            XCTAssertEqual(m.sha256, plan.expectedSHA256)
            XCTAssertEqual(try FetchManifest.read(dataDir.appendingPathComponent("\(source.name)/manifest.json")), m)
        }
        XCTAssertEqual(counts(manifests["arc-agi-1"]!).mapValues { $0[0] }, ["training": 400, "evaluation": 400])
        XCTAssertEqual(counts(manifests["arc-agi-2"]!).mapValues { $0[0] }, ["training": 1000, "evaluation": 120])
        XCTAssertEqual(counts(manifests["concept-arc"]!).mapValues { $0[0] }, ["corpus": 160])
        XCTAssertEqual(counts(manifests["kaggle"]!).mapValues { $0[0] }, ["training": 1000, "evaluation": 120, "test": 120])
        // The loaders read the normalised layout.
        XCTAssertEqual(try TaskLoader.loadDirectory(dataDir.appendingPathComponent("arc-agi-1/evaluation"), name: "e").tasks.count, 400)
        let eval = try TaskLoader.loadKaggle(directory: dataDir.appendingPathComponent("kaggle"), split: "evaluation")
        XCTAssertTrue(eval.tasks.allSatisfy(\.hasSolutions))
        let test = try TaskLoader.loadKaggle(directory: dataDir.appendingPathComponent("kaggle"), split: "test")
        XCTAssertEqual(test.tasks.count, 120)
        XCTAssertFalse(test.tasks.contains(where: \.hasSolutions))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dataDir.path).sorted(),
                       ["arc-agi-1", "arc-agi-2", "concept-arc", "kaggle"], "no work folders or downloads left behind")

        // Second run: up to date, no archive requested again, fast.
        let before = server.requestCount("ARC-AGI-master.zip")
        let start = Date()
        for source in DataSource.all {
            let plan = try f.plan(source, mirror: server.baseURL, kaggleSource: nil, pinnedSHA256: nil)
            guard case .upToDate = try f.fetch(plan) else { return XCTFail("\(source.name) should be up to date") }
        }
        XCTAssertLessThan(Date().timeIntervalSince(start), 2.0)
        XCTAssertEqual(server.requestCount("ARC-AGI-master.zip"), before)
    }

    func testKaggleFromZipPathAndFromFolder() throws {
        let mirror = try TestPaths.mirror()
        let dataDir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dataDir) }
        let f = fetcher(dataDir)
        let zipPlan = try f.plan(.kaggle, mirror: nil, kaggleSource: mirror.appendingPathComponent("arc-prize-2025.zip").path, pinnedSHA256: nil)
        XCTAssertEqual(zipPlan.url?.scheme, "file")
        let m = try f.fetch(zipPlan).manifest
        XCTAssertEqual(counts(m)["test"], [120, 167])
        // A folder (e.g. the unpacked competition download) with the hyphenated spelling.
        let folder = dataDir.appendingPathComponent("unpacked-kaggle")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try FileManager.default.copyItem(at: dataDir.appendingPathComponent("kaggle/arc-agi_test_challenges.json"),
                                         to: folder.appendingPathComponent("arc-agi_test-challenges.json"))
        let dataDir2 = dataDir.appendingPathComponent("second")
        let f2 = fetcher(dataDir2)
        let m2 = try f2.fetch(try f2.plan(.kaggle, mirror: nil, kaggleSource: folder.path, pinnedSHA256: nil)).manifest
        XCTAssertEqual(counts(m2), ["test": [120, 167]])
    }

    func testNotFoundSourceInstallsNothing() throws {
        let server = try LoopbackHTTPServer()  // serves only SHA256SUMS: the archive is a 404
        defer { server.stop() }
        server.add("SHA256SUMS", Data("\(String(repeating: "0", count: 64))  ARC-AGI-master.zip\n".utf8))
        let dataDir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dataDir) }
        let f = fetcher(dataDir)
        let plan = try f.plan(.arcAGI1, mirror: server.baseURL, kaggleSource: nil, pinnedSHA256: nil)
        XCTAssertThrowsError(try f.fetch(plan)) { XCTAssertTrue("\($0)".contains("HTTP 404"), "\($0)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dataDir.appendingPathComponent("arc-agi-1").path))
        XCTAssertEqual(server.requestCount("ARC-AGI-master.zip"), 1)
    }

    func testPinnedChecksumMismatchKeepsPreviousCopy() throws {
        let server = try serveMirror()
        defer { server.stop() }
        let dataDir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dataDir) }
        let f = fetcher(dataDir)
        _ = try f.fetch(try f.plan(.conceptARC, mirror: server.baseURL, kaggleSource: nil, pinnedSHA256: nil))
        let manifestBefore = try Data(contentsOf: dataDir.appendingPathComponent("concept-arc/manifest.json"))
        f.force = true
        let bad = try f.plan(.conceptARC, mirror: server.baseURL, kaggleSource: nil, pinnedSHA256: String(repeating: "a", count: 64))
        XCTAssertThrowsError(try f.fetch(bad)) { XCTAssertTrue("\($0)".contains("checksum mismatch"), "\($0)") }
        XCTAssertEqual(try Data(contentsOf: dataDir.appendingPathComponent("concept-arc/manifest.json")), manifestBefore)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dataDir.path).sorted(), ["concept-arc"])
    }

    func testMalformedTaskInArchiveIsNamedAndNothingInstalled() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let zip = dir.appendingPathComponent("ARC-AGI-master.zip")
        let bad = Data(#"{"train":[{"input":[[1,2],[3]],"output":[[1]]}],"test":[{"input":[[1]]}]}"#.utf8)
        try ArchiveBuilder.write([.file("ARC-AGI-master/data/training/good.json", sampleTaskJSON),
                                  .file("ARC-AGI-master/data/training/bad0001.json", bad),
                                  .file("ARC-AGI-master/data/evaluation/e.json", sampleTaskJSON)], format: .zip, to: zip)
        server.add("ARC-AGI-master.zip", try Data(contentsOf: zip))
        server.add("SHA256SUMS", Data("\(try SHA256Hasher.hexDigest(ofFile: zip))  ARC-AGI-master.zip\n".utf8))
        let dataDir = dir.appendingPathComponent("data")
        let f = fetcher(dataDir)
        let plan = try f.plan(.arcAGI1, mirror: server.baseURL, kaggleSource: nil, pinnedSHA256: nil)
        XCTAssertThrowsError(try f.fetch(plan)) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("bad0001.json"), text)
            XCTAssertTrue(text.contains("task bad0001"), text)
            XCTAssertTrue(text.contains("train[0].input"), text)
            XCTAssertTrue(text.contains("ragged"), text)
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dataDir.appendingPathComponent("arc-agi-1").path))
    }
}
