// Where the dataset builder may write: it replaces only a dataset it built (or an empty folder),
// leaves everything else exactly as it was, and removes the staging folders of dead builds.
import ARCAugment
import ARCCore
import Foundation
import XCTest

final class DatasetOutputTests: XCTestCase {
    func inputs() -> [RoledTaskSet] {
        var rng = Xoshiro256StarStar(seed: 7)
        func pair() -> Pair {
            Pair(input: TestSupport.randomGrid(rows: 2, cols: 3, using: &rng), output: TestSupport.randomGrid(rows: 3, cols: 2, using: &rng))
        }
        let training = TaskSet(name: "t", tasks: [ARCTask(id: "aaaa0001", train: [pair(), pair()], test: [pair()])])
        let evaluation = TaskSet(name: "e", tasks: [ARCTask(id: "bbbb0001", train: [pair()], test: [pair()])])
        return [RoledTaskSet(set: training, role: .training), RoledTaskSet(set: evaluation, role: .evaluation)]
    }

    func options() -> DatasetBuildOptions {
        var options = DatasetBuildOptions()
        options.numAug = 2
        options.canvas = 4
        options.threads = 1
        return options
    }

    /// Relative path -> bytes ("dir" for folders, "link:target" for links) of everything under `root`.
    func snapshot(_ root: URL) -> [String: Data] {
        var result = [String: Data]()
        let fm = FileManager.default
        for relative in (fm.enumerator(atPath: root.path)?.allObjects as? [String]) ?? [] {
            let path = root.appendingPathComponent(relative).path
            if let target = try? fm.destinationOfSymbolicLink(atPath: path) {
                result[relative] = Data("link:\(target)".utf8)
            } else if let data = fm.contents(atPath: path) {
                result[relative] = data
            } else {
                result[relative] = Data("dir".utf8)
            }
        }
        return result
    }

    func testRefusesToReplaceWhatItDidNotBuild() throws {
        let dir = try TestSupport.temporaryDirectory("refuse")
        defer { try? FileManager.default.removeItem(at: dir) }
        let fm = FileManager.default
        // A user's folder, a regular file, a built dataset with a user's file added, a link to a built dataset.
        try fm.createDirectory(at: dir.appendingPathComponent("mine"), withIntermediateDirectories: true)
        try Data("my notes\n".utf8).write(to: dir.appendingPathComponent("mine/notes.txt"))
        try Data("a file\n".utf8).write(to: dir.appendingPathComponent("file.txt"))
        _ = try DatasetBuilder.build(inputs: inputs(), options: options(), output: dir.appendingPathComponent("mixed"))
        try Data("added\n".utf8).write(to: dir.appendingPathComponent("mixed/notes.txt"))
        _ = try DatasetBuilder.build(inputs: inputs(), options: options(), output: dir.appendingPathComponent("real"))
        try fm.createSymbolicLink(atPath: dir.appendingPathComponent("link").path, withDestinationPath: "real")
        let before = snapshot(dir)

        for (name, mention) in [("mine", "notes.txt"), ("file.txt", "not a folder"), ("mixed", "notes.txt"), ("link", "symbolic link")] {
            XCTAssertThrowsError(try DatasetBuilder.build(inputs: inputs(), options: options(), output: dir.appendingPathComponent(name)), name) { error in
                let text = "\(error)"
                XCTAssertTrue(text.contains(dir.appendingPathComponent(name).path) && text.contains(mention), "\(name): \(text)")
                XCTAssertFalse(text.contains("\n"), "one line: \(text)")
            }
        }
        XCTAssertEqual(snapshot(dir), before, "nothing changed, nothing left beside")
    }

    func testReplacesItsOwnDatasetAndAnEmptyFolder() throws {
        let dir = try TestSupport.temporaryDirectory("replace")
        defer { try? FileManager.default.removeItem(at: dir) }
        let out = dir.appendingPathComponent("built")
        _ = try DatasetBuilder.build(inputs: inputs(), options: options(), output: out)
        let first = snapshot(out)
        var other = options()
        other.seed = 43
        _ = try DatasetBuilder.build(inputs: inputs(), options: other, output: out)
        XCTAssertNotEqual(snapshot(out), first, "replaced by the new build")
        _ = try DatasetBuilder.build(inputs: inputs(), options: options(), output: out)
        XCTAssertEqual(snapshot(out), first, "same options, same bytes")

        let empty = dir.appendingPathComponent("empty")
        try FileManager.default.createDirectory(at: empty, withIntermediateDirectories: true)
        _ = try DatasetBuilder.build(inputs: inputs(), options: options(), output: empty)
        XCTAssertEqual(snapshot(empty), first)
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path).sorted(), ["built", "empty"], "no staging or old folder left")
    }

    func testStaleStagingFoldersOfDeadBuildsAreRemoved() throws {
        let dir = try TestSupport.temporaryDirectory("stale")
        defer { try? FileManager.default.removeItem(at: dir) }
        let fm = FileManager.default
        let dead = try deadProcessIdentifier()
        func plant(_ name: String, marker: Bool) throws {
            let folder = dir.appendingPathComponent(name)
            try fm.createDirectory(at: folder.appendingPathComponent("train"), withIntermediateDirectories: true)
            try Data(count: 1000).write(to: folder.appendingPathComponent("train/all__inputs.npy"))
            if marker { try Data().write(to: folder.appendingPathComponent(".arc-pipeline-partial")) }
        }
        try plant(".built.partial-\(dead)", marker: false)  // same output name (older versions had no marker)
        try plant(".built.old-\(dead)", marker: false)
        try plant(".other.partial-\(dead)", marker: true)   // another build's, marked
        try plant(".notes.partial-\(dead)", marker: false)  // not recognisably ours: kept
        try plant(".alive.partial-\(getpid())", marker: true)  // this (live) process's: kept
        _ = try DatasetBuilder.build(inputs: inputs(), options: options(), output: dir.appendingPathComponent("built"))
        XCTAssertEqual(try fm.contentsOfDirectory(atPath: dir.path).sorted(),
                       [".alive.partial-\(getpid())", ".notes.partial-\(dead)", "built"])
    }

    /// The PID of a process that has exited.
    func deadProcessIdentifier() throws -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/true")
        try process.run()
        process.waitUntilExit()
        return process.processIdentifier
    }
}
