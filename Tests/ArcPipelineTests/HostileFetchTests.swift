// `arc-pipeline fetch` under hostile mirrors and options: crafted archives that try to write
// outside --data-dir, mirrors whose archives cannot be verified, malformed URLs, SHA256SUMS
// files and option values. Each refusal is one clear line, exits non-zero without a trap, and
// leaves the disk as it was (the previous good copy included).
import Foundation
import TestHelpers
import XCTest

final class HostileFetchTests: XCTestCase {
    /// Deep enough that an escape of up to three levels above the work folders stays in the sandbox.
    private let dataDirectory = "outer/inner/data"
    private let archiveName = "ARC-AGI-master.zip"

    /// `fetch arc-agi-1` from `mirror/` into `dataDirectory`, which holds a previous good copy.
    private func fetchCase(_ name: String, members: [MirrorFixtures.TarMember], sums: MirrorFixtures.Sums = .correct,
                           extraArguments: [String] = [], errorMentions: [String]) -> HostileCase {
        HostileCase(name: name,
                    arguments: ["fetch", "--data-dir", dataDirectory, "--mirror", "mirror", "--retries", "1"] + extraArguments + ["arc-agi-1"],
                    errorMentions: errorMentions,
                    prepare: { [dataDirectory, archiveName] root in
                        try MirrorFixtures.writePreviousCopy(in: root, dataDirectory: dataDirectory)
                        try MirrorFixtures.writeMirror(in: root, archives: [archiveName: MirrorFixtures.tar(members)], sums: sums)
                    })
    }

    private let good = MirrorFixtures.goodARC1Members
    private let goodMember = "ARC-AGI-master/data/training/0a1b2c3d.json"

    // MARK: - Archives that try to write outside the target

    func testCraftedArchivesCannotWriteOutsideTheDataFolder() throws {
        try HostileInputHarness.check([
            // A symlink to the extraction root, a second symlink through it to three levels
            // above, and a hard link through both to an earlier member.
            fetchCase("symlink chain then a hard link through it",
                      members: good + [.symbolicLink("a/b/c/l", target: "../../.."),
                                       .symbolicLink("a/b/c/l/esc", target: "../../../.."),
                                       .hardLink("a/b/c/l/esc/ESCAPED.txt", target: goodMember)],
                      errorMentions: [archiveName, "a/b/c/l/esc", "symbolic link a/b/c/l"]),
            fetchCase("hard link to a path outside",
                      members: good + [.hardLink("ARC-AGI-master/data/training/stolen.json", target: "../../../../outside/sentinel.txt")],
                      errorMentions: [archiveName, "ARC-AGI-master/data/training/stolen.json", "hard link"]),
            fetchCase("hard link to an absolute path",
                      members: good + [.hardLink("ARC-AGI-master/data/training/passwd.json", target: "/etc/passwd")],
                      errorMentions: [archiveName, "ARC-AGI-master/data/training/passwd.json", "hard link"]),
            fetchCase("hard link to a member inside",
                      members: good + [.hardLink("ARC-AGI-master/data/evaluation/copy.json", target: goodMember)],
                      errorMentions: [archiveName, "ARC-AGI-master/data/evaluation/copy.json", "hard link"]),
            fetchCase("symbolic link to an absolute path",
                      members: good + [.symbolicLink("ARC-AGI-master/data/training/passwd.json", target: "/etc/passwd")],
                      errorMentions: [archiveName, "ARC-AGI-master/data/training/passwd.json", "symbolic link"]),
            fetchCase("member through a symlinked folder",
                      members: good + [.symbolicLink("ARC-AGI-master/link", target: "data"),
                                       .file("ARC-AGI-master/link/training/through.json", MirrorFixtures.taskJSON)],
                      errorMentions: [archiveName, "ARC-AGI-master/link/training/through.json", "symbolic link ARC-AGI-master/link"]),
            // A link that stays inside the archive, but would be installed as a link.
            fetchCase("symlinked split folder",
                      members: [.file("ARC-AGI-master/real/training/0a1b2c3d.json", MirrorFixtures.taskJSON),
                                .file("ARC-AGI-master/data/evaluation/4e5f6a7b.json", MirrorFixtures.taskJSON),
                                .symbolicLink("ARC-AGI-master/data/training", target: "../real/training")],
                      errorMentions: ["arc-agi-1", "training", "symbolic link"]),
            fetchCase("FIFO member",
                      members: good + [.fifo("ARC-AGI-master/data/training/pipe.json")],
                      errorMentions: [archiveName, "ARC-AGI-master/data/training/pipe.json", "special file"]),
            fetchCase("a file where a folder is needed",
                      members: good + [.file("ARC-AGI-master/x", Data("x".utf8)), .file("ARC-AGI-master/x/y.json", MirrorFixtures.taskJSON)],
                      errorMentions: [archiveName, "ARC-AGI-master/x/y.json"]),
            fetchCase("the same member twice",
                      members: good + [.file(goodMember, Data("{}".utf8))],
                      errorMentions: [archiveName, goodMember, "twice"]),
            fetchCase("parent-folder escape", members: good + [.file("../../../escaped.json", MirrorFixtures.taskJSON)],
                      errorMentions: [archiveName, "../../../escaped.json", "'..'"]),
            fetchCase("absolute member", members: good + [.file("/tmp/arc-hostile-absolute.json", MirrorFixtures.taskJSON)],
                      errorMentions: [archiveName, "/tmp/arc-hostile-absolute.json", "absolute"]),
        ])
        XCTAssertFalse(FileManager.default.fileExists(atPath: "/tmp/arc-hostile-absolute.json"))
    }

    // MARK: - Archives whose digest cannot be checked

    func testUnverifiableMirrorArchivesAreRefused() throws {
        let otherLine = Data("\(String(repeating: "ab", count: 32))  ARC-AGI-2-main.zip\n".utf8)
        try HostileInputHarness.check([
            fetchCase("mirror without SHA256SUMS", members: good, sums: .none,
                      errorMentions: [archiveName, "SHA256SUMS", "--sha256", "--insecure"]),
            fetchCase("SHA256SUMS without a line for the archive", members: good, sums: .text(otherLine),
                      errorMentions: [archiveName, "SHA256SUMS", "--sha256", "--insecure"]),
            fetchCase("SHA256SUMS with a wrong digest", members: good,
                      sums: .text(Data("\(String(repeating: "0", count: 64))  \(archiveName)\n".utf8)),
                      errorMentions: [archiveName, "checksum mismatch"]),
            fetchCase("--sha256 with a wrong digest", members: good, sums: .none,
                      extraArguments: ["--sha256", String(repeating: "1", count: 64)],
                      errorMentions: [archiveName, "checksum mismatch"]),
            fetchCase("--insecure does not accept a wrong digest", members: good,
                      sums: .text(Data("\(String(repeating: "0", count: 64))  \(archiveName)\n".utf8)),
                      extraArguments: ["--insecure"], errorMentions: [archiveName, "checksum mismatch"]),
        ])
    }

    /// Runs `fetch arc-agi-1` from a mirror holding a good archive; returns the result and the sandbox.
    private func runFetch(sums: MirrorFixtures.Sums, extraArguments: [String]) throws -> (status: Int32, stdout: String, stderr: String, root: URL) {
        let root = try HostileInputHarness.makeSandbox()
        try MirrorFixtures.writePreviousCopy(in: root, dataDirectory: dataDirectory)
        try MirrorFixtures.writeMirror(in: root, archives: [archiveName: MirrorFixtures.tar(good)], sums: sums)
        var environment = ProcessInfo.processInfo.environment
        environment.removeValue(forKey: "ARC_MIRROR")
        let r = try PipelineExecutable.run(["fetch", "--data-dir", dataDirectory, "--mirror", "mirror", "--retries", "1"]
                                           + extraArguments + ["arc-agi-1"], in: root, environment: environment)
        return (r.status, r.stdout, r.stderr, root)
    }

    private func assertInstalledFromMirror(_ root: URL, file: StaticString = #filePath, line: UInt = #line) throws {
        let copy = root.appendingPathComponent("\(dataDirectory)/arc-agi-1")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: copy.appendingPathComponent("training").path), ["0a1b2c3d.json"],
                       "the new copy replaced the previous one", file: file, line: line)
        let manifest = try String(contentsOf: copy.appendingPathComponent("manifest.json"), encoding: .utf8)
        XCTAssertTrue(manifest.contains(MirrorFixtures.sha256Hex(MirrorFixtures.tar(good))), manifest, file: file, line: line)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: root.appendingPathComponent(dataDirectory).path), ["arc-agi-1"],
                       "no work folders or downloads left", file: file, line: line)
    }

    func testInsecureInstallsAnUncheckedArchiveWithAWarning() throws {
        let r = try runFetch(sums: .none, extraArguments: ["--insecure"])
        defer { try? FileManager.default.removeItem(at: r.root) }
        XCTAssertEqual(r.status, 0, r.stderr)
        let warnings = r.stderr.split(separator: "\n").filter { $0.hasPrefix("WARNING:") }
        XCTAssertEqual(warnings.count, 1, r.stderr)
        for word in [archiveName, "NOT VERIFIED", "--insecure", MirrorFixtures.sha256Hex(MirrorFixtures.tar(good))] {
            XCTAssertTrue(warnings.first?.contains(word) ?? false, "warning should name \(word): \(r.stderr)")
        }
        try assertInstalledFromMirror(r.root)
    }

    func testPinnedDigestInstallsWithoutSHA256SUMS() throws {
        let digest = MirrorFixtures.sha256Hex(MirrorFixtures.tar(good))
        let r = try runFetch(sums: .none, extraArguments: ["--sha256", digest.uppercased()])
        defer { try? FileManager.default.removeItem(at: r.root) }
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stderr.contains("WARNING"), r.stderr)
        XCTAssertTrue(r.stderr.contains("(verified)"), r.stderr)
        try assertInstalledFromMirror(r.root)
    }

    func testMirrorWithSHA256SUMSInstallsVerified() throws {
        let r = try runFetch(sums: .correct, extraArguments: [])
        defer { try? FileManager.default.removeItem(at: r.root) }
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertFalse(r.stderr.contains("WARNING"), r.stderr)
        XCTAssertTrue(r.stderr.contains("(verified)"), r.stderr)
        try assertInstalledFromMirror(r.root)
    }

    // MARK: - Malformed locations, SHA256SUMS files and options

    func testMalformedMirrorLocationsAreNamed() throws {
        func mirrorCase(_ value: String, _ mentions: [String]) -> HostileCase {
            HostileCase(name: "--mirror '\(value)'", arguments: ["fetch", "--data-dir", "data", "--mirror", value, "arc-agi-1"],
                        errorMentions: mentions)
        }
        try HostileInputHarness.check([
            mirrorCase("http://[::1", ["--mirror", "http://[::1"]),
            mirrorCase("https://[not-an-address]/x", ["--mirror", "https://[not-an-address]/x"]),
            mirrorCase("http://", ["--mirror", "http://"]),
            mirrorCase("", ["--mirror", "empty"]),
            mirrorCase("ftp://example.invalid/arc", ["--mirror", "ftp"]),
            mirrorCase("file://remote-host/arc", ["--mirror", "file://remote-host/arc"]),
            HostileCase(name: "ARC_MIRROR malformed", arguments: ["fetch", "--data-dir", "data", "arc-agi-1"],
                        errorMentions: ["ARC_MIRROR", "http://[::1"], environment: ["ARC_MIRROR": "http://[::1"]),
            HostileCase(name: "--kaggle-source malformed URL", arguments: ["fetch", "--data-dir", "data", "--kaggle-source", "http://[::1", "kaggle"],
                        errorMentions: ["--kaggle-source", "http://[::1"]),
            HostileCase(name: "--kaggle-source missing", arguments: ["fetch", "--data-dir", "data", "--kaggle-source", "nowhere.zip", "kaggle"],
                        errorMentions: ["nowhere.zip"]),
        ])
    }

    func testMalformedSHA256SUMSAreNamed() throws {
        let digest = MirrorFixtures.sha256Hex(MirrorFixtures.tar(good))
        func sumsCase(_ name: String, _ text: Data, _ mentions: [String]) -> HostileCase {
            fetchCase(name, members: good, sums: .text(text), errorMentions: ["SHA256SUMS"] + mentions)
        }
        try HostileInputHarness.check([
            sumsCase("short digest", Data("abc  \(archiveName)\n".utf8), ["line 1"]),
            sumsCase("non-hex digest", Data("\(String(repeating: "z", count: 64))  \(archiveName)\n".utf8), ["line 1"]),
            sumsCase("no file name", Data("\(digest)\n".utf8), ["line 1"]),
            sumsCase("bad second line", Data("\(digest)  \(archiveName)\nnot a checksum line\n".utf8), ["line 2"]),
            sumsCase("two digests for one archive",
                     Data("\(digest)  \(archiveName)\n\(String(repeating: "0", count: 64))  \(archiveName)\n".utf8), [archiveName, "twice"]),
            sumsCase("not UTF-8", Data([0xff, 0xfe, 0x00, 0x41, 0x0a]), ["UTF-8"]),
            sumsCase("larger than 1 MiB", Data(repeating: 0x41, count: (1 << 20) + 10), ["1048576"]),
        ])
    }

    func testBadOptionValuesAreNamed() throws {
        func optionCase(_ arguments: [String], _ mentions: [String]) -> HostileCase {
            HostileCase(name: arguments.joined(separator: " "), arguments: ["fetch", "--data-dir", "data", "--mirror", "mirror"] + arguments,
                        errorMentions: mentions)
        }
        try HostileInputHarness.check([
            optionCase(["--sha256", "xyz", "arc-agi-1"], ["--sha256"]),
            optionCase(["--sha256", String(repeating: "\u{FF41}", count: 64), "arc-agi-1"], ["--sha256"]),  // full-width "a"
            optionCase(["--sha256", String(repeating: "a", count: 64)], ["--sha256", "one source"]),
            optionCase(["--sha256", String(repeating: "a", count: 64), "--insecure", "arc-agi-1"], ["--sha256", "--insecure"]),
            optionCase(["--retries", "0", "arc-agi-1"], ["--retries"]),
            optionCase(["--retries=-3", "arc-agi-1"], ["--retries"]),
            optionCase(["--retries", "1000000", "arc-agi-1"], ["--retries"]),
            optionCase(["--retries", "99999999999999999999999", "arc-agi-1"], ["--retries"]),
            optionCase(["arc-agi-9"], ["arc-agi-9"]),
            HostileCase(name: "--data-dir ''", arguments: ["fetch", "--data-dir", "", "--mirror", "mirror", "arc-agi-1"],
                        errorMentions: ["--data-dir", "empty"],
                        prepare: { [archiveName, good] root in
                            try MirrorFixtures.writeMirror(in: root, archives: [archiveName: MirrorFixtures.tar(good)])
                        }),
        ])
    }

    func testUnusableDataFolderOrArchiveIsNamed() throws {
        try HostileInputHarness.check([
            HostileCase(name: "--data-dir is a file", arguments: ["fetch", "--data-dir", "datafile", "--mirror", "mirror", "arc-agi-1"],
                        errorMentions: ["datafile"],
                        prepare: { [archiveName, good] root in
                            try root.write("not a folder\n", to: "datafile")
                            try MirrorFixtures.writeMirror(in: root, archives: [archiveName: MirrorFixtures.tar(good)])
                        }),
            HostileCase(name: "archive is not an archive", arguments: ["fetch", "--data-dir", dataDirectory, "--mirror", "mirror", "arc-agi-1"],
                        errorMentions: [archiveName],
                        prepare: { [dataDirectory, archiveName] root in
                            try MirrorFixtures.writePreviousCopy(in: root, dataDirectory: dataDirectory)
                            try MirrorFixtures.writeMirror(in: root, archives: [archiveName: Data("this is not an archive\n".utf8)])
                        }),
            fetchCase("archive without the data folder", members: [.file("ARC-AGI-master/README.md", Data("hi\n".utf8))],
                      errorMentions: ["arc-agi-1", "data/training"]),
        ])
    }

    func testFixtureDigestKnownAnswers() {
        XCTAssertEqual(MirrorFixtures.sha256Hex(Data()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        XCTAssertEqual(MirrorFixtures.sha256Hex(Data("abc".utf8)), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        XCTAssertEqual(MirrorFixtures.sha256Hex(Data("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8)),
                       "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    }
}
