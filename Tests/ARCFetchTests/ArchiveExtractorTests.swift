// Extraction safety: hostile paths, links, bombs; atomic replacement of the target.
import ARCFetch
import Foundation
import TestHelpers
import XCTest

final class ArchiveExtractorTests: XCTestCase {
    private func assertRefused(_ entries: [ArchiveBuilder.Entry], format: ArchiveBuilder.Format = .zip,
                               limits: ExtractionLimits = ExtractionLimits(), expecting fragment: String,
                               file: StaticString = #filePath, line: UInt = #line) throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let archive = dir.appendingPathComponent(format == .zip ? "hostile.zip" : "hostile.tar.gz")
        try ArchiveBuilder.write(entries, format: format, to: archive)
        let sandbox = dir.appendingPathComponent("sandbox")
        let target = sandbox.appendingPathComponent("data/target")
        // A previous good copy that must survive the failure.
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        try Data("old".utf8).write(to: target.appendingPathComponent("keep.txt"))
        XCTAssertThrowsError(try ArchiveExtractor(limits: limits).extract(archive, into: target), file: file, line: line) { error in
            XCTAssertTrue("\(error)".contains(fragment), "error \"\(error)\" should mention \"\(fragment)\"", file: file, line: line)
        }
        // Nothing written outside the target, no staging folder left, the old copy intact.
        let all = (FileManager.default.enumerator(atPath: sandbox.path)?.allObjects as? [String] ?? []).sorted()
        XCTAssertEqual(all, ["data", "data/target", "data/target/keep.txt"], file: file, line: line)
        XCTAssertEqual(try String(contentsOf: target.appendingPathComponent("keep.txt"), encoding: .utf8), "old", file: file, line: line)
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir.appendingPathComponent("x").path), file: file, line: line)
    }

    func testRefusesParentDirectoryEscape() throws {
        try assertRefused([.file("top/ok.json", sampleTaskJSON), .file("../x", Data("evil".utf8))], expecting: "'..'")
        try assertRefused([.file("top/../../x", Data("evil".utf8))], expecting: "'..'")
    }

    func testRefusesAbsolutePath() throws {
        try assertRefused([.file("/tmp/arc-evil-absolute", Data("evil".utf8))], format: .tarGz, expecting: "absolute")
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/arc-evil-absolute"))
    }

    func testRefusesSymlinkOutside() throws {
        try assertRefused([.symlink("top/etc", target: "/etc")], format: .tarGz, expecting: "symbolic link")
        try assertRefused([.symlink("top/up", target: "../../..")], format: .tarGz, expecting: "symbolic link")
    }

    /// A symlink to the root, a second symlink through it to above the root, and a hard link
    /// through both to an earlier member: the member must never be written outside.
    func testRefusesLinkChainEscape() throws {
        let entries: [ArchiveBuilder.Entry] = [.file("top/member.json", sampleTaskJSON),
                                               .symlink("a/b/c/l", target: "../../.."),
                                               .symlink("a/b/c/l/esc", target: "../../../.."),
                                               .hardLink("a/b/c/l/esc/ESCAPED.txt", target: "top/member.json")]
        try assertRefused(entries, format: .tarGz, expecting: "entry \"a/b/c/l/esc\" goes through the symbolic link a/b/c/l")
        // The same members as a zip named like the tar (libarchive reads either whatever the name).
        try assertRefused(entries, format: .zip, expecting: "\"a/b/c/l/esc\"")
    }

    func testRefusesEveryHardLink() throws {
        try assertRefused([.file("top/a.json", sampleTaskJSON), .hardLink("top/b.json", target: "top/a.json")], format: .tarGz,
                          expecting: "entry \"top/b.json\" is a hard link to \"top/a.json\"")
        try assertRefused([.hardLink("top/passwd", target: "/etc/passwd")], format: .tarGz, expecting: "hard link")
        try assertRefused([.hardLink("top/up", target: "../../x")], format: .tarGz, expecting: "hard link")
    }

    func testRefusesMembersBelowALink() throws {
        // The link comes first.
        try assertRefused([.symlink("top/link", target: "real"), .file("top/link/x.json", sampleTaskJSON)], format: .tarGz,
                          expecting: "entry \"top/link/x.json\" goes through the symbolic link top/link")
        // The link comes after a member below its path.
        try assertRefused([.file("top/link/x.json", sampleTaskJSON), .symlink("top/link", target: "real")], format: .tarGz,
                          expecting: "entry \"top/link\" appears twice")
        // A deeper link declared after a link above it.
        try assertRefused([.symlink("top/l/deep", target: "x"), .symlink("top/l", target: ".")], format: .tarGz,
                          expecting: "entry \"top/l/deep\" goes through the symbolic link top/l")
    }

    func testRefusesLinkTargetThroughAnotherLink() throws {
        // `a/l` is the root; `b/up` reads as `a` lexically, but on disk it would be the root's parent.
        try assertRefused([.symlink("a/l", target: ".."), .symlink("b/up", target: "../a/l/..")], format: .tarGz,
                          expecting: "entry \"b/up\" is a symbolic link to \"../a/l/..\" through the symbolic link a/l")
        try assertRefused([.symlink("b/up", target: "../a/l/.."), .symlink("a/l", target: "..")], format: .tarGz,
                          expecting: "through the symbolic link a/l")
        try assertRefused([.symlink("top/empty", target: "")], format: .tarGz, expecting: "empty target")
    }

    func testRefusesDuplicatesAndConflicts() throws {
        try assertRefused([.file("top/a.json", sampleTaskJSON), .file("top/a.json", Data("{}".utf8))], format: .tarGz,
                          expecting: "entry \"top/a.json\" appears twice")
        try assertRefused([.file("top/x", Data("x".utf8)), .file("top/x/y.json", sampleTaskJSON)], format: .tarGz,
                          expecting: "entry \"top/x/y.json\" needs the folder top/x, but the archive has a file of that name")
        try assertRefused([.file("top/x", Data("x".utf8)), .directory("top/x/")], format: .tarGz, expecting: "entry \"top/x/\" appears twice")
        try assertRefused([.fifo("top/pipe")], format: .tarGz, expecting: "special file")
    }

    func testRefusesBomb() throws {
        // 2 GiB of zeros (a few MB compressed) against the default 1 GiB cap.
        try assertRefused([.zeros("bomb/zeros.bin", size: 2 << 30)], format: .tarGz, expecting: "more than 1073741824 bytes")
    }

    func testRefusesTooManyEntries() throws {
        let entries = (0..<20).map { ArchiveBuilder.Entry.file("top/f\($0).json", sampleTaskJSON) }
        try assertRefused(entries, limits: ExtractionLimits(maxTotalBytes: 1 << 30, maxEntries: 10), expecting: "more than 10 entries")
    }

    func testExtractsAndReplacesAtomically() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let archive = dir.appendingPathComponent("good.zip")
        try ArchiveBuilder.write([.directory("top/"), .file("top/a/b.json", sampleTaskJSON), .symlink("top/link", target: "a/b.json")],
                                 format: .zip, to: archive)
        let target = dir.appendingPathComponent("target")
        try FileManager.default.createDirectory(at: target, withIntermediateDirectories: true)
        try Data("old".utf8).write(to: target.appendingPathComponent("stale.txt"))
        let report = try ArchiveExtractor().extract(archive, into: target)
        XCTAssertEqual(report.files, 1)
        XCTAssertEqual(report.bytes, Int64(sampleTaskJSON.count))
        XCTAssertEqual(try Data(contentsOf: target.appendingPathComponent("top/a/b.json")), sampleTaskJSON)
        XCTAssertEqual(try FileManager.default.destinationOfSymbolicLink(atPath: target.appendingPathComponent("top/link").path), "a/b.json")
        XCTAssertFalse(FileManager.default.fileExists(atPath: target.appendingPathComponent("stale.txt").path), "old copy replaced whole")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["good.zip", "target"])
    }

    func testRefusesDamagedArchive() throws {
        let dir = try TestPaths.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let archive = dir.appendingPathComponent("damaged.zip")
        try Data("PK\u{3}\u{4}this is not really a zip file".utf8).write(to: archive)
        XCTAssertThrowsError(try ArchiveExtractor().extract(archive, into: dir.appendingPathComponent("t")))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["damaged.zip"])
    }
}
