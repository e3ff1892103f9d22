// The downloader over real HTTP on loopback: errors, retries, resume, checksums.
import ARCFetch
import Foundation
import TestHelpers
import XCTest

final class DownloaderTests: XCTestCase {
    private func fastDownloader(attempts: Int = 4) -> Downloader {
        var o = DownloadOptions()
        o.maxAttempts = attempts
        o.initialBackoff = 0.05
        o.quiet = true
        o.connectTimeout = 5
        return Downloader(options: o)
    }

    private let payload = Data((0..<200_000).map { UInt8(truncatingIfNeeded: $0 &* 31 &+ 7) })

    func testNotFoundIsAClearErrorAndLeavesNoFile() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let dest = dir.appendingPathComponent("file.zip")
        XCTAssertThrowsError(try fastDownloader().download(URL(string: server.baseURL + "missing.zip")!, to: dest)) { error in
            XCTAssertEqual(error as? DownloadError, .httpStatus(404, url: server.baseURL + "missing.zip"))
            XCTAssertTrue("\(error)".contains("HTTP 404"))
        }
        XCTAssertEqual(server.requestCount("missing.zip"), 1, "a 404 is not retried")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    func testServerErrorsAreRetriedThenSucceed() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.add("flaky.bin", payload, .failFirst(times: 2, status: 500))
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let dest = dir.appendingPathComponent("flaky.bin")
        let result = try fastDownloader().download(URL(string: server.baseURL + "flaky.bin")!, to: dest,
                                                   expectedSHA256: SHA256Hasher.hexDigest(of: payload))
        XCTAssertEqual(result.attempts, 3)
        XCTAssertEqual(server.requestCount("flaky.bin"), 3)
        XCTAssertEqual(try Data(contentsOf: dest), payload)
    }

    func testPersistentServerErrorGivesUpWithAttemptsCount() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.add("down.bin", payload, .status(503))
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        XCTAssertThrowsError(try fastDownloader(attempts: 3).download(URL(string: server.baseURL + "down.bin")!, to: dir.appendingPathComponent("d"))) { error in
            XCTAssertTrue("\(error)".contains("after 3 attempt"), "\(error)")
            XCTAssertTrue("\(error)".contains("503"), "\(error)")
        }
        XCTAssertEqual(server.requestCount("down.bin"), 3)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("d").path))
    }

    func testConnectionClosedMidBodyIsResumedWithRange() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.add("big.bin", payload, .closeMidBodyOnce)
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let dest = dir.appendingPathComponent("big.bin")
        let result = try fastDownloader().download(URL(string: server.baseURL + "big.bin")!, to: dest,
                                                   expectedSHA256: SHA256Hasher.hexDigest(of: payload))
        XCTAssertEqual(try Data(contentsOf: dest), payload)
        XCTAssertEqual(result.attempts, 2)
        let ranges = server.ranges("big.bin")
        XCTAssertEqual(ranges.count, 2)
        XCTAssertNil(ranges[0])
        XCTAssertEqual(ranges[1], "bytes=\(payload.count / 2)-", "the second request resumes where the first stopped")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dest.path + ".partial"))
    }

    func testPartialFromAnEarlierRunIsResumed() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.add("resume.bin", payload)
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let dest = dir.appendingPathComponent("resume.bin")
        try payload.prefix(12345).write(to: URL(fileURLWithPath: dest.path + ".partial"))
        let result = try fastDownloader().download(URL(string: server.baseURL + "resume.bin")!, to: dest)
        XCTAssertEqual(result.resumedFrom, 12345)
        XCTAssertEqual(server.ranges("resume.bin"), ["bytes=12345-"])
        XCTAssertEqual(try Data(contentsOf: dest), payload)
    }

    func testChecksumMismatchInstallsNothing() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.add("file.bin", payload)
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let dest = dir.appendingPathComponent("file.bin")
        let wrong = String(repeating: "0", count: 64)
        XCTAssertThrowsError(try fastDownloader().download(URL(string: server.baseURL + "file.bin")!, to: dest, expectedSHA256: wrong)) { error in
            guard case let .checksumMismatch(expected, actual, _)? = error as? DownloadError else { return XCTFail("\(error)") }
            XCTAssertEqual(expected, wrong)
            XCTAssertEqual(actual, SHA256Hasher.hexDigest(of: payload))
        }
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    func testBodyOverTheLimitIsRefusedAndLeavesNoFile() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.add("big.bin", payload)
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var downloader = fastDownloader()
        downloader.options.maxBytes = 1000
        XCTAssertThrowsError(try downloader.download(URL(string: server.baseURL + "big.bin")!, to: dir.appendingPathComponent("big.bin"))) { error in
            XCTAssertEqual(error as? DownloadError, .tooLarge(url: server.baseURL + "big.bin", limitBytes: 1000))
        }
        XCTAssertEqual(server.requestCount("big.bin"), 1, "not retried")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), [])
    }

    func testHostileContentLengthDoesNotTrap() throws {
        // A resumed download (offset > 0) whose server claims Int64.max bytes: the progress
        // total must saturate, not overflow.
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.add("huge.bin", payload, .claimLength(Int64.max))
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let dest = dir.appendingPathComponent("huge.bin")
        try payload.prefix(100).write(to: URL(fileURLWithPath: dest.path + ".partial"))
        XCTAssertThrowsError(try fastDownloader(attempts: 1).download(URL(string: server.baseURL + "huge.bin")!, to: dest))
        XCTAssertFalse(FileManager.default.fileExists(atPath: dest.path))
    }

    func testBackoffIsCapped() throws {
        let server = try LoopbackHTTPServer()
        defer { server.stop() }
        server.add("down.bin", payload, .status(503))
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        var downloader = fastDownloader(attempts: 6)
        downloader.options.initialBackoff = 10
        downloader.options.maxBackoff = 0.05
        let start = Date()
        XCTAssertThrowsError(try downloader.download(URL(string: server.baseURL + "down.bin")!, to: dir.appendingPathComponent("d")))
        XCTAssertLessThan(Date().timeIntervalSince(start), 5, "five waits of at most 0.05 s")
        XCTAssertEqual(server.requestCount("down.bin"), 6)
    }

    func testSHA256KnownAnswer() {
        XCTAssertEqual(SHA256Hasher.hexDigest(of: Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    }
}
