// Mirror archives are installed only when verified: by the mirror's SHA256SUMS, by a pinned
// --sha256, or, explicitly unverified, with --insecure (and a warning). Also the parsing of
// SHA256SUMS files and of mirror locations.
import ARCFetch
import Foundation
import TestHelpers
import XCTest

final class MirrorVerificationTests: XCTestCase {
    private let archiveName = DataSource.arcAGI1.archiveName

    /// A small valid `ARC-AGI-master.zip` and its digest.
    private func goodArchive(in dir: URL) throws -> (data: Data, digest: String) {
        let zip = dir.appendingPathComponent("good.zip")
        try ArchiveBuilder.write([.file("ARC-AGI-master/data/training/aaaa0001.json", sampleTaskJSON),
                                  .file("ARC-AGI-master/data/evaluation/bbbb0002.json", sampleTaskJSON)], format: .zip, to: zip)
        let data = try Data(contentsOf: zip)
        return (data, SHA256Hasher.hexDigest(of: data))
    }

    private final class LogLines: @unchecked Sendable {
        var lines: [String] = []
    }

    private func fetcher(_ dataDir: URL, log: LogLines = LogLines()) -> Fetcher {
        var o = DownloadOptions()
        o.quiet = true
        o.initialBackoff = 0.05
        o.maxAttempts = 2
        return Fetcher(dataDirectory: dataDir, downloader: Downloader(options: o), log: { log.lines.append($0) })
    }

    func testMirrorWithoutSHA256SUMSIsRefusedBeforeDownloading() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.add(archiveName, try goodArchive(in: dir).data)
        let dataDir = dir.appendingPathComponent("data")
        XCTAssertThrowsError(try fetcher(dataDir).plan(.arcAGI1, mirror: server.baseURL, kaggleSource: nil, pinnedSHA256: nil)) { error in
            guard case FetchError.unverifiable = error else { return XCTFail("\(error)") }
            let text = "\(error)"
            for word in [archiveName, server.baseURL, "no SHA256SUMS", "HTTP 404", "--sha256", "--insecure"] {
                XCTAssertTrue(text.contains(word), "\(word) missing from: \(text)")
            }
            XCTAssertFalse(text.contains("\n"))
        }
        XCTAssertEqual(server.requestCount(archiveName), 0, "refused before the download")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dataDir.path), "the data folder is not even created")
    }

    func testSHA256SUMSWithoutTheArchiveIsRefused() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let mirror = dir.appendingPathComponent("mirror")
        try FileManager.default.createDirectory(at: mirror, withIntermediateDirectories: true)
        try goodArchive(in: dir).data.write(to: mirror.appendingPathComponent(archiveName))
        try Data("\(String(repeating: "ab", count: 32))  ConceptARC-main.zip\n".utf8).write(to: mirror.appendingPathComponent("SHA256SUMS"))
        XCTAssertThrowsError(try fetcher(dir.appendingPathComponent("data")).plan(.arcAGI1, mirror: mirror.path, kaggleSource: nil, pinnedSHA256: nil)) { error in
            XCTAssertTrue("\(error)".contains("its SHA256SUMS has no line for \(archiveName)"), "\(error)")
            XCTAssertTrue("\(error)".contains(mirror.path), "names the mirror folder: \(error)")
        }
    }

    func testInsecureInstallsWithAWarning() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let (data, digest) = try goodArchive(in: dir)
        server.add(archiveName, data)
        let log = LogLines()
        let f = fetcher(dir.appendingPathComponent("data"), log: log)
        let plan = try f.plan(.arcAGI1, mirror: server.baseURL, kaggleSource: nil, pinnedSHA256: nil, insecure: true)
        XCTAssertNil(plan.expectedSHA256)
        XCTAssertNotNil(plan.unverifiedReason)
        guard case let .installed(manifest) = try f.fetch(plan) else { return XCTFail("should install") }
        XCTAssertEqual(manifest.sha256, digest)
        let warnings = log.lines.filter { $0.hasPrefix("WARNING:") }
        XCTAssertEqual(warnings.count, 1, "\(log.lines)")
        XCTAssertTrue(warnings.first?.contains("NOT VERIFIED (--insecure)") ?? false, "\(warnings)")
        XCTAssertTrue(warnings.first?.contains(digest) ?? false, "\(warnings)")
    }

    func testInsecureStillRefusesAWrongDigest() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.add(archiveName, try goodArchive(in: dir).data)
        server.add("SHA256SUMS", Data("\(String(repeating: "0", count: 64))  \(archiveName)\n".utf8))
        let f = fetcher(dir.appendingPathComponent("data"))
        let plan = try f.plan(.arcAGI1, mirror: server.baseURL, kaggleSource: nil, pinnedSHA256: nil, insecure: true)
        XCTAssertNil(plan.unverifiedReason, "a listed digest is always checked")
        XCTAssertThrowsError(try f.fetch(plan)) { XCTAssertTrue("\($0)".contains("checksum mismatch"), "\($0)") }
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("data/arc-agi-1").path))
    }

    func testPinnedDigestNeedsNoSHA256SUMS() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let (data, digest) = try goodArchive(in: dir)
        server.add(archiveName, data)
        let f = fetcher(dir.appendingPathComponent("data"))
        let right = try f.plan(.arcAGI1, mirror: server.baseURL, kaggleSource: nil, pinnedSHA256: digest.uppercased())
        XCTAssertEqual(right.expectedSHA256, digest)
        XCTAssertEqual(try f.fetch(right).manifest.sha256, digest)
        XCTAssertEqual(server.requestCount("SHA256SUMS"), 0, "a pinned digest replaces the mirror's list")
        f.force = true
        let wrong = try f.plan(.arcAGI1, mirror: server.baseURL, kaggleSource: nil, pinnedSHA256: String(repeating: "c", count: 64))
        XCTAssertThrowsError(try f.fetch(wrong)) { XCTAssertTrue("\($0)".contains("checksum mismatch"), "\($0)") }
        XCTAssertEqual(try FetchManifest.read(dir.appendingPathComponent("data/arc-agi-1/manifest.json")).sha256, digest,
                       "the previous good copy stays")
        XCTAssertThrowsError(try f.plan(.arcAGI1, mirror: server.baseURL, kaggleSource: nil, pinnedSHA256: String(repeating: "\u{FF41}", count: 64))) {
            XCTAssertTrue("\($0)".contains("--sha256"), "\($0)")
        }
    }

    func testChecksumFileOverTheSizeLimitIsRefused() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.add("SHA256SUMS", Data(repeating: 0x41, count: Int(Fetcher.maxChecksumFileBytes) + 1))
        XCTAssertThrowsError(try fetcher(dir).plan(.arcAGI1, mirror: server.baseURL, kaggleSource: nil, pinnedSHA256: nil, insecure: true)) { error in
            XCTAssertTrue("\(error)".contains("SHA256SUMS: larger than 1048576 bytes"), "\(error)")
        }
    }

    func testSHA256SUMSParsing() throws {
        let a = String(repeating: "a", count: 64), b = String(repeating: "B", count: 64)
        let good = "# digests\n\n\(a)  ARC-AGI-master.zip\r\n\(b) *ConceptARC-main.zip\n\(a)  name with spaces.zip\n\(a)  ARC-AGI-master.zip\n"
        let sums = try checksums(good)
        XCTAssertEqual(sums, ["ARC-AGI-master.zip": a, "ConceptARC-main.zip": b.lowercased(), "name with spaces.zip": a])
        let bad: [(String, String)] = [
            ("abc  x.zip\n", "line 1 is not"),
            ("\(a)\n", "line 1 is not"),
            ("\(a)  \n", "line 1 is not"),
            ("\(a)  x.zip\nSHA256 (y.zip) = \(a)\n", "line 2 is not"),
            ("\(String(repeating: "g", count: 64))  x.zip\n", "line 1 is not"),
            ("\(a)  x.zip\n\(b)  x.zip\n", "lists x.zip twice with different digests (line 2)"),
        ]
        for (text, fragment) in bad {
            XCTAssertThrowsError(try checksums(text), text) { error in
                XCTAssertTrue("\(error)".contains(fragment), "\(text): \(error)")
                XCTAssertTrue("\(error)".hasPrefix("/mirror/SHA256SUMS: "), "\(error)")
            }
        }
        XCTAssertThrowsError(try Fetcher.parseChecksums(Data([0xff, 0xfe, 0x41]), location: "/mirror/SHA256SUMS")) {
            XCTAssertTrue("\($0)".contains("not UTF-8"), "\($0)")
        }
    }

    private func checksums(_ text: String) throws -> [String: String] {
        try Fetcher.parseChecksums(Data(text.utf8), location: "/mirror/SHA256SUMS")
    }

    func testMirrorLocations() throws {
        XCTAssertEqual(try Fetcher.baseURL("http://127.0.0.1:8000").absoluteString, "http://127.0.0.1:8000/")
        XCTAssertEqual(try Fetcher.baseURL("https://example.com/mirror/").absoluteString, "https://example.com/mirror/")
        XCTAssertEqual(try Fetcher.baseURL("http://[::1]:8000/m").absoluteString, "http://[::1]:8000/m/")
        XCTAssertEqual(try Fetcher.baseURL("file:///srv/mirror").absoluteString, "file:///srv/mirror/")
        XCTAssertEqual(try Fetcher.baseURL("http://user@mirror.example-1.org:8080/a?b").host, "mirror.example-1.org")
        XCTAssertEqual(try Fetcher.baseURL("/srv/mirror").path, "/srv/mirror")
        XCTAssertTrue(try Fetcher.baseURL("relative/mirror").path.hasSuffix("/relative/mirror"))
        let bad: [(String, String)] = [
            ("http://[::1", "not a valid URL"),
            ("http://", "no host"),
            ("https:///path", "no host"),
            ("", "empty"),
            ("   ", "empty"),
            ("ftp://example.com/", "unsupported scheme 'ftp'"),
            ("file://remote/share", "local path"),
            ("https://[not-an-address]/x", "not an IPv6 address"),
            ("http://host:99999/", "port '99999'"),
            ("http://host:8a/", "not a valid URL"),
            ("http://ho$t/", "character '$'"),
        ]
        for (value, fragment) in bad {
            XCTAssertThrowsError(try Fetcher.baseURL(value, option: "ARC_MIRROR"), value) { error in
                XCTAssertTrue("\(error)".hasPrefix("ARC_MIRROR '\(value)': "), "\(error)")
                XCTAssertTrue("\(error)".contains(fragment), "\(value): \(error)")
            }
        }
        let f = fetcher(FileManager.default.temporaryDirectory.appendingPathComponent("unused-\(UUID().uuidString)"))
        XCTAssertThrowsError(try f.plan(.kaggle, mirror: nil, kaggleSource: "http://[::1", pinnedSHA256: nil)) {
            XCTAssertTrue("\($0)".hasPrefix("--kaggle-source 'http://[::1': "), "\($0)")
        }
    }

    func testTargetThatFetchDidNotMakeIsLeftAlone() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let (data, digest) = try goodArchive(in: dir)
        server.add(archiveName, data)
        let dataDir = dir.appendingPathComponent("data")
        let users = dataDir.appendingPathComponent("arc-agi-1")
        try FileManager.default.createDirectory(at: users, withIntermediateDirectories: true)
        try Data("my notes\n".utf8).write(to: users.appendingPathComponent("notes.txt"))
        let f = fetcher(dataDir)
        let plan = try f.plan(.arcAGI1, mirror: server.baseURL, kaggleSource: nil, pinnedSHA256: digest)
        XCTAssertThrowsError(try f.fetch(plan)) { error in
            XCTAssertTrue("\(error)".contains("\(users.path) is there but was not made by fetch"), "\(error)")
        }
        XCTAssertEqual(try String(contentsOf: users.appendingPathComponent("notes.txt"), encoding: .utf8), "my notes\n")
        XCTAssertEqual(server.requestCount(archiveName), 0, "refused before the download")
        // A regular file in the way, and a data folder that is a file.
        try FileManager.default.removeItem(at: users)
        try Data("x".utf8).write(to: users)
        XCTAssertThrowsError(try f.fetch(plan)) { XCTAssertTrue("\($0)".contains("was not made by fetch"), "\($0)") }
        XCTAssertEqual(try Data(contentsOf: users), Data("x".utf8))
        let fileAsData = fetcher(users)
        XCTAssertThrowsError(try fileAsData.fetch(plan)) { XCTAssertTrue("\($0)".contains("is a file, not a folder"), "\($0)") }
    }
}
