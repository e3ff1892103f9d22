// Reading input files that are no regular files: a folder, a symbolic link loop, a FIFO, a device,
// a missing path. Each gives a short reason naming what is wrong, and the task loaders put it after
// the file's name; none shows Foundation's text ("NSCocoaErrorDomain error 256", "You don't have permission").
import ARCCore
import Foundation
import XCTest

final class InputFileTests: XCTestCase {
    func testEveryKindOfPathGivesItsReason() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("input-file-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: dir.appendingPathComponent("folder.json"), withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("loop1.json").path, withDestinationPath: "loop2.json")
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("loop2.json").path, withDestinationPath: "loop1.json")
        XCTAssertEqual(mkfifo(dir.appendingPathComponent("fifo.json").path, 0o600), 0)
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("zero.json").path, withDestinationPath: "/dev/zero")
        try Data("{}".utf8).write(to: dir.appendingPathComponent("file.json"))
        try FileManager.default.createSymbolicLink(atPath: dir.appendingPathComponent("link.json").path, withDestinationPath: "file.json")

        let cases: [(String, String)] = [
            ("folder.json", "is a directory"), ("loop1.json", "is a symbolic link loop"),
            ("fifo.json", "is not a regular file (a FIFO, device or socket)"), ("zero.json", "is not a regular file (a FIFO, device or socket)"),
            ("missing.json", "no such file"), ("file.json/inside.json", "no such file (a part of its path is not a folder)"),
        ]
        for (name, reason) in cases {
            let url = dir.appendingPathComponent(name)
            XCTAssertThrowsError(try InputFile.read(url), name) { XCTAssertEqual("\($0)", reason, name) }
            XCTAssertThrowsError(try TaskLoader.loadTaskFile(url), name) { error in
                let id = url.deletingPathExtension().lastPathComponent
                XCTAssertEqual(error as? ARCDataError, ARCDataError(file: url.path, task: id, message: reason), name)
            }
        }
        for name in ["/dev/zero", "/dev/null"] {
            XCTAssertThrowsError(try Submission.load(from: URL(fileURLWithPath: name)), name) { error in
                XCTAssertEqual(error as? ARCDataError, ARCDataError(file: name, message: "is not a regular file (a FIFO, device or socket)"), name)
            }
        }
        XCTAssertEqual(try InputFile.read(dir.appendingPathComponent("file.json")), Data("{}".utf8))
        XCTAssertEqual(try InputFile.read(dir.appendingPathComponent("link.json")), Data("{}".utf8), "a link to a file is read")
        if getuid() != 0 {
            try FileManager.default.setAttributes([.posixPermissions: 0], ofItemAtPath: dir.appendingPathComponent("file.json").path)
            XCTAssertThrowsError(try InputFile.read(dir.appendingPathComponent("file.json"))) { XCTAssertEqual("\($0)", "cannot be read: permission denied") }
        }
    }
}
