// A bucket dataset (docs/DESIGN.md "Canvas buckets") whose canvas_sides (dataset.json) or
// canvas_buckets (build_info.json) were edited by hand: each edit is refused when the dataset is
// opened, with one error naming the file and the field, before any training or inference.
import ARCAugment
import ARCCore
import Foundation
import XCTest

final class HostileCanvasSidesTests: XCTestCase {
    /// A tiny bucket dataset: train sets c4 and c8, buckets [4, 8, 30].
    static let template = Result<URL, Error>(catching: {
        let dir = try TestSupport.temporaryDirectory("hostile-sides-template")
        var rng = Xoshiro256StarStar(seed: 9)
        func p(_ r: Int, _ c: Int) -> Pair {
            Pair(input: TestSupport.randomGrid(rows: r, cols: c, using: &rng), output: TestSupport.randomGrid(rows: c, cols: r, using: &rng))
        }
        let training = TaskSet(name: "t", tasks: [ARCTask(id: "a", train: [p(2, 3)], test: [p(1, 2)]),
                                                  ARCTask(id: "b", train: [p(6, 5)], test: [p(2, 2)])])
        var options = DatasetBuildOptions()
        options.numAug = 1
        options.canvasBuckets = [4, 8, 30]
        _ = try DatasetBuilder.build(inputs: [RoledTaskSet(set: training, role: .training)], options: options, output: dir.appendingPathComponent("built"))
        return dir.appendingPathComponent("built")
    })

    override class func tearDown() {
        if case let .success(url) = template { try? FileManager.default.removeItem(at: url.deletingLastPathComponent()) }
        super.tearDown()
    }

    private func open(_ dir: URL) throws {
        let dataset = try BuiltDataset(directory: dir)
        for split in dataset.splitNames { _ = try dataset.split(split).orderedSubsets }
    }

    private func replace(_ url: URL, _ old: String, _ new: String) throws {
        let text = try String(contentsOf: url, encoding: .utf8)
        guard text.contains(old) else { throw TestSupport.Failure(description: "no \(old) in \(url.path): \(text)") }
        try Data(text.replacingOccurrences(of: old, with: new).utf8).write(to: url)
    }

    /// Copies the template, applies `edit`, and requires opening it to throw naming `file` and `mentions`.
    private func assertRefused(_ name: String, file: String, mentions: [String], line: UInt = #line, _ edit: (URL) throws -> Void) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("arcaugment-hostile-sides-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: dir) }
        try FileManager.default.copyItem(at: try Self.template.get(), to: dir)
        try open(dir)  // the unedited dataset is fine
        try edit(dir)
        do {
            try open(dir)
            XCTFail("\(name): opened without an error", line: line)
        } catch {
            let text = "\(error)"
            XCTAssertTrue(text.contains(dir.appendingPathComponent(file).path), "\(name): the error names \(file): \(text)", line: line)
            for m in mentions { XCTAssertTrue(text.contains(m), "\(name): the error mentions '\(m)': \(text)", line: line) }
            XCTAssertFalse(text.contains("\n"), "\(name): one line: \(text)", line: line)
        }
    }

    func testTemplateIsABucketDataset() throws {
        let dataset = try BuiltDataset(directory: try Self.template.get())
        XCTAssertEqual(try dataset.split("train").metadata.canvasSides, ["c4": 4, "c8": 8])
    }

    func testCanvasSidesOutOfRangeOrInconsistentAreRefused() throws {
        let meta = "train/dataset.json"
        let sides = #""canvas_sides": {"c4": 4, "c8": 8}"#
        let cases: [(String, String, [String])] = [
            ("side 31", #""canvas_sides": {"c4": 31, "c8": 8}"#, ["canvas_sides", "31", "1...30"]),
            ("side 0", #""canvas_sides": {"c4": 0, "c8": 8}"#, ["canvas_sides", "1...30"]),
            ("side -4", #""canvas_sides": {"c4": -4, "c8": 8}"#, ["canvas_sides", "1...30"]),
            ("side a string", #""canvas_sides": {"c4": "4", "c8": 8}"#, ["canvas_sides", "1...30"]),
            ("side 2^62", #""canvas_sides": {"c4": 4611686018427387904, "c8": 8}"#, ["canvas_sides", "1...30"]),
            ("a set without a side", #""canvas_sides": {"c4": 4}"#, ["canvas_sides", "no side for set", "c8"]),
            ("a side for no set", #""canvas_sides": {"c4": 4, "c8": 8, "c9": 9}"#, ["canvas_sides", "c9", "not in sets"]),
            ("a set named twice", #""canvas_sides": {"c4": 4, "c8": 8, "c4": 4}"#, ["duplicate key", "c4"]),  // the JSON parser refuses it
            ("not an object", #""canvas_sides": [4, 8]"#, ["canvas_sides", "expected an object"]),
        ]
        for (name, replacement, mentions) in cases {
            try assertRefused(name, file: meta, mentions: mentions) { try self.replace($0.appendingPathComponent(meta), sides, replacement) }
        }
        try assertRefused("seq_len 400 with canvas_sides", file: meta, mentions: ["canvas_sides", "seq_len", "900"]) {
            try self.replace($0.appendingPathComponent(meta), #""seq_len": 900"#, #""seq_len": 400"#)
        }
        // A side that disagrees with the arrays: the array file is named.
        try assertRefused("side 5 for 4x4 rows", file: "train/c4__inputs.npy", mentions: ["canvas side 5", "16"]) {
            try self.replace($0.appendingPathComponent(meta), sides, #""canvas_sides": {"c4": 5, "c8": 8}"#)
        }
        // Without canvas_sides every set must have seq_len (900) tokens per example: the first set's array is named.
        try assertRefused("canvas_sides missing in a bucket dataset", file: "train/c4__inputs.npy", mentions: ["[4, 16]", "seq_len 900"]) {
            try self.replace($0.appendingPathComponent(meta), ", " + sides, "")
        }
    }

    func testBuildInfoCanvasBucketsAreChecked() throws {
        let info = "build_info.json"
        let buckets = #""canvas_buckets": [4, 8, 30]"#
        try assertRefused("buckets descending", file: info, mentions: ["canvas_buckets", "ascending"]) {
            try self.replace($0.appendingPathComponent(info), buckets, #""canvas_buckets": [8, 4, 30]"#)
        }
        try assertRefused("bucket side 31", file: info, mentions: ["canvas_buckets", "31"]) {
            try self.replace($0.appendingPathComponent(info), buckets, #""canvas_buckets": [4, 8, 31]"#)
        }
        try assertRefused("buckets not an array", file: info, mentions: ["canvas_buckets", "expected an array"]) {
            try self.replace($0.appendingPathComponent(info), buckets, #""canvas_buckets": "auto""#)
        }
        try assertRefused("canvas 12 with buckets", file: info, mentions: ["canvas", "30"]) {
            try self.replace($0.appendingPathComponent(info), #""canvas": 30"#, #""canvas": 12"#)
        }
        try assertRefused("a set side not in the buckets", file: "train/dataset.json", mentions: ["canvas_sides", "c8", "canvas_buckets"]) {
            try self.replace($0.appendingPathComponent(info), buckets, #""canvas_buckets": [4, 30]"#)
        }
    }
}
