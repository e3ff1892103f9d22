// Built-dataset files edited by hand or from elsewhere: `.npy` headers whose sizes overflow, and
// dataset.json / arrays / build_info.json fields out of range. Each must be refused when the dataset
// is opened, with one error naming the file and the field, before any training or inference.
import ARCAugment
import ARCCore
import Foundation
import XCTest

final class HostileDatasetFilesTests: XCTestCase {
    // MARK: .npy headers

    /// A version 1.0 `.npy` file with a hand-written header dict and `body` bytes of data.
    private func npy(_ dict: String, body: [UInt8] = [], version: UInt8 = 1) -> Data {
        let unpadded = 10 + (version == 1 ? 0 : 2) + dict.utf8.count + 1
        let total = (unpadded + 63) / 64 * 64
        let length = total - 10 - (version == 1 ? 0 : 2)
        var bytes: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, version, 0]
        bytes += version == 1 ? [UInt8(length & 0xFF), UInt8(length >> 8)] : [UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), 0, 0]
        bytes += Array(dict.utf8) + [UInt8](repeating: 0x20, count: total - unpadded) + [0x0A]
        return Data(bytes + body)
    }

    private func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("arcaugment-hostile-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    private func assertRefused(_ data: Data, mentions: String, line: UInt = #line) throws {
        let url = try folder().appendingPathComponent("all__inputs.npy")
        try data.write(to: url)
        XCTAssertThrowsError(try NpyFile(contentsOf: url), line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains(url.path), "the error names the file: \(text)", line: line)
            XCTAssertTrue(text.contains(mentions), "the error mentions '\(mentions)': \(text)", line: line)
        }
    }

    func testNpyShapeWhoseSizeOverflowsIsRefused() throws {
        // 2^62 rows of 4 bytes: the element count times the row length wraps to a small number.
        try assertRefused(npy("{'descr': '|u1', 'fortran_order': False, 'shape': (4611686018427387904, 4), }", body: [1, 2, 3, 4]),
                          mentions: "shape")
        // Element count fits, bytes (x 4 for int32) do not.
        try assertRefused(npy("{'descr': '<i4', 'fortran_order': False, 'shape': (4611686018427387904,), }", body: [0, 0, 0, 0]),
                          mentions: "shape")
        // No rows, but the row length alone overflows.
        try assertRefused(npy("{'descr': '|u1', 'fortran_order': False, 'shape': (0, 4611686018427387904, 4), }"), mentions: "shape")
        // A shape entry beyond Int.
        try assertRefused(npy("{'descr': '|u1', 'fortran_order': False, 'shape': (99999999999999999999999,), }"), mentions: "shape")
    }

    func testNpyHeaderLengthAndTruncationAreChecked() throws {
        // Version 2.0 header claiming 4 GB.
        var huge: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 2, 0, 0xFF, 0xFF, 0xFF, 0xFF]
        huge += [UInt8](repeating: 0x20, count: 64)
        try assertRefused(Data(huge), mentions: "header")
        try assertRefused(npy("{'descr': '|u1', 'fortran_order': False, 'shape': (3, 4), }", body: [1, 2, 3]), mentions: "truncated")
        try assertRefused(npy("{'descr': '|u1', 'fortran_order': False, 'shape': 12, }", body: [UInt8](repeating: 0, count: 12)), mentions: "shape")
        // A good file still opens.
        let url = try folder().appendingPathComponent("ok.npy")
        try npy("{'descr': '|u1', 'fortran_order': False, 'shape': (3, 4), }", body: Array(0..<12)).write(to: url)
        XCTAssertEqual(try NpyFile(contentsOf: url).uint8Values(), Array(0..<12))
    }

    // MARK: Built datasets

    /// A valid two-split dataset on a 2x2 canvas (seq_len 4): train has 2 groups of 1 puzzle each
    /// (2 + 1 examples), test 1 group with 1 puzzle of 1 example.
    private func writeDataset(_ dir: URL) throws {
        let fm = FileManager.default
        try Data(#"["<blank>", "aa", "aa_t1_0123456789"]"#.utf8).write(to: dir.appendingPathComponent("identifiers.json"))
        try Data(#"{"format": "hrm-arc", "canvas": 2, "training": [], "evaluation": ["tasks/eval"]}"#.utf8)
            .write(to: dir.appendingPathComponent("build_info.json"))
        try Data(#"{"aa": {"train": [{"input": [[1]], "output": [[2]]}], "test": [{"input": [[1]]}]}}"#.utf8)
            .write(to: dir.appendingPathComponent("test_puzzles.json"))
        for (split, rows, puzzles, groups, identifiers) in [("train", 3, [0, 2, 3], [0, 1, 2], [1, 2]), ("test", 1, [0, 1], [0, 1], [1])] {
            let d = dir.appendingPathComponent(split)
            try fm.createDirectory(at: d, withIntermediateDirectories: true)
            let tokens: [UInt8] = (0..<(rows * 4)).map { [3, 1, 1, 0][$0 % 4] }
            try NpyFile.write(uint8: tokens, shape: [rows, 4], to: d.appendingPathComponent("all__inputs.npy"))
            try NpyFile.write(uint8: tokens, shape: [rows, 4], to: d.appendingPathComponent("all__labels.npy"))
            try NpyFile.write(int32: identifiers.map(Int32.init), shape: [identifiers.count], to: d.appendingPathComponent("all__puzzle_identifiers.npy"))
            try NpyFile.write(int32: puzzles.map(Int32.init), shape: [puzzles.count], to: d.appendingPathComponent("all__puzzle_indices.npy"))
            try NpyFile.write(int32: groups.map(Int32.init), shape: [groups.count], to: d.appendingPathComponent("all__group_indices.npy"))
            let mean = Double(rows) / Double(identifiers.count)
            try Data(("{\"pad_id\": 0, \"ignore_label_id\": 0, \"blank_identifier_id\": 0, \"vocab_size\": 12, \"seq_len\": 4, "
                      + "\"num_puzzle_identifiers\": 3, \"total_groups\": \(groups.count - 1), \"mean_puzzle_examples\": \(mean), "
                      + "\"total_puzzles\": \(identifiers.count), \"sets\": [\"all\"]}").utf8)
                .write(to: d.appendingPathComponent("dataset.json"))
        }
    }

    /// Opens the dataset and both splits (what train and evaluate do first).
    private func open(_ dir: URL) throws {
        let dataset = try BuiltDataset(directory: dir)
        for split in dataset.splitNames { _ = try dataset.split(split).subset("all") }
    }

    private func editJSON(_ url: URL, _ key: String, _ value: String) throws {
        let text = try String(contentsOf: url, encoding: .utf8)
        guard let range = text.range(of: "\"\(key)\": ") else { return XCTFail("no \(key) in \(url.path)") }
        let end = text[range.upperBound...].firstIndex(where: { $0 == "," || $0 == "}" })!
        try Data(text.replacingCharacters(in: range.upperBound..<end, with: value).utf8).write(to: url)
    }

    /// Writes a fresh dataset, applies `edit`, and requires opening it to throw naming `file` and `mentions`.
    private func assertRefused(_ name: String, file: String, mentions: [String], line: UInt = #line, _ edit: (URL) throws -> Void) throws {
        let dir = try folder()
        try writeDataset(dir)
        try open(dir)  // the unedited dataset is fine
        try edit(dir)
        do {
            try open(dir)
            XCTFail("\(name): opened without an error", line: line)
        } catch {
            let text = "\(error)"
            XCTAssertTrue(text.contains(dir.appendingPathComponent(file).path), "\(name): the error names \(file): \(text)", line: line)
            for m in mentions { XCTAssertTrue(text.contains(m), "\(name): the error mentions '\(m)': \(text)", line: line) }
        }
    }

    func testDatasetJSONFieldsOutOfRangeAreRefused() throws {
        let meta = "train/dataset.json"
        try assertRefused("vocab_size 2^62", file: meta, mentions: ["vocab_size", "4611686018427387904"]) {
            try self.editJSON($0.appendingPathComponent(meta), "vocab_size", "4611686018427387904")
        }
        try assertRefused("ignore_label_id 300", file: meta, mentions: ["ignore_label_id", "300"]) {
            try self.editJSON($0.appendingPathComponent(meta), "ignore_label_id", "300")
        }
        try assertRefused("mean_puzzle_examples 1e300", file: meta, mentions: ["mean_puzzle_examples"]) {
            try self.editJSON($0.appendingPathComponent(meta), "mean_puzzle_examples", "1e300")
        }
        try assertRefused("seq_len 0", file: meta, mentions: ["seq_len"]) {
            try self.editJSON($0.appendingPathComponent(meta), "seq_len", "0")
        }
        try assertRefused("pad_id outside the vocabulary", file: meta, mentions: ["pad_id"]) {
            try self.editJSON($0.appendingPathComponent(meta), "pad_id", "-1")
        }
        try assertRefused("a set name that leaves the folder", file: meta, mentions: ["sets"]) {
            try self.editJSON($0.appendingPathComponent(meta), "sets", #"["../all"]"#)
        }
    }

    func testTokensOutsideTheVocabularyAreRefused() throws {
        try assertRefused("input token 12", file: "train/all__inputs.npy", mentions: ["token 12", "vocab_size"]) {
            var tokens = [UInt8](repeating: 0, count: 12)
            tokens[6] = 12
            try NpyFile.write(uint8: tokens, shape: [3, 4], to: $0.appendingPathComponent("train/all__inputs.npy"))
        }
        try assertRefused("label 255", file: "test/all__labels.npy", mentions: ["255", "vocab_size"]) {
            try NpyFile.write(uint8: [3, 1, 255, 0], shape: [1, 4], to: $0.appendingPathComponent("test/all__labels.npy"))
        }
    }

    func testOffsetsAndIdentifiersOutOfRangeAreRefused() throws {
        try assertRefused("a group with 0 puzzles", file: "train/all__group_indices.npy", mentions: ["group 0 has no puzzles"]) {
            try NpyFile.write(int32: [0, 0, 2], shape: [3], to: $0.appendingPathComponent("train/all__group_indices.npy"))
            try self.editJSON($0.appendingPathComponent("train/dataset.json"), "total_groups", "2")
        }
        try assertRefused("a puzzle with 0 examples", file: "train/all__puzzle_indices.npy", mentions: ["puzzle 1 has no examples"]) {
            try NpyFile.write(int32: [0, 3, 3], shape: [3], to: $0.appendingPathComponent("train/all__puzzle_indices.npy"))
        }
        try assertRefused("puzzle_indices decreasing", file: "train/all__puzzle_indices.npy", mentions: ["decreases"]) {
            try NpyFile.write(int32: [0, 4, 3], shape: [3], to: $0.appendingPathComponent("train/all__puzzle_indices.npy"))
        }
        try assertRefused("puzzle_indices past the examples", file: "train/all__puzzle_indices.npy", mentions: ["ends at 9"]) {
            try NpyFile.write(int32: [0, 2, 9], shape: [3], to: $0.appendingPathComponent("train/all__puzzle_indices.npy"))
        }
        try assertRefused("group_indices past the puzzles", file: "train/all__group_indices.npy", mentions: ["ends at 5"]) {
            try NpyFile.write(int32: [0, 1, 5], shape: [3], to: $0.appendingPathComponent("train/all__group_indices.npy"))
        }
        try assertRefused("an identifier past num_puzzle_identifiers", file: "train/all__puzzle_identifiers.npy", mentions: ["is 3", "0..<3"]) {
            try NpyFile.write(int32: [1, 3], shape: [2], to: $0.appendingPathComponent("train/all__puzzle_identifiers.npy"))
        }
        try assertRefused("seq_len that disagrees with the arrays", file: "train/all__inputs.npy", mentions: ["seq_len 9"]) {
            try self.editJSON($0.appendingPathComponent("train/dataset.json"), "seq_len", "9")
        }
    }

    func testBuildInfoCanvasMustMatchTheSequences() throws {
        for canvas in ["31", "0", "3", "\"2\""] {
            try assertRefused("build_info canvas \(canvas)", file: "build_info.json", mentions: ["canvas"]) {
                try self.editJSON($0.appendingPathComponent("build_info.json"), "canvas", canvas)
            }
        }
    }
}
