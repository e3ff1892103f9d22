// Validation of ARC task files: every kind of bad input is named by file, task, pair and field.
import ARCCore
import Foundation
import XCTest

final class TaskLoaderTests: XCTestCase {
    private func parse(_ text: String, id: String = "t1") throws -> ARCTask {
        try TaskLoader.parseTask(try JSONParser.parse(Data(text.utf8)), id: id, file: "f.json")
    }

    private func assertError(_ text: String, field: String?, contains fragment: String, line: UInt = #line) {
        XCTAssertThrowsError(try parse(text), line: line) { error in
            guard let e = error as? ARCDataError else { return XCTFail("not an ARCDataError: \(error)", line: line) }
            XCTAssertEqual(e.file, "f.json", line: line)
            XCTAssertEqual(e.task, "t1", line: line)
            XCTAssertEqual(e.field, field, line: line)
            XCTAssertTrue(e.message.contains(fragment), "\"\(e.message)\" should contain \"\(fragment)\"", line: line)
        }
    }

    func testValidTask() throws {
        let t = try parse(#"{"train":[{"input":[[1,2,3],[4,5,6]],"output":[[0]]}],"test":[{"input":[[9]]}]}"#)
        XCTAssertEqual(t.train[0].input.rows, 2)
        XCTAssertEqual(t.train[0].input.cols, 3)
        XCTAssertEqual(t.train[0].input[1, 2], 6)
        XCTAssertNil(t.test[0].output)
        XCTAssertEqual(t.train[0].input.jsonText, "[[1,2,3],[4,5,6]]")
    }

    func testEveryKindOfBadGrid() {
        assertError(#"{"train":[{"input":[[1,2],[3]],"output":[[1]]}],"test":[{"input":[[1]]}]}"#, field: "train[0].input", contains: "ragged")
        assertError(#"{"train":[{"input":[],"output":[[1]]}],"test":[{"input":[[1]]}]}"#, field: "train[0].input", contains: "empty")
        assertError(#"{"train":[{"input":[[]],"output":[[1]]}],"test":[{"input":[[1]]}]}"#, field: "train[0].input", contains: "empty")
        let tall = "[" + Array(repeating: "[1]", count: 31).joined(separator: ",") + "]"
        assertError(#"{"train":[{"input":\#(tall),"output":[[1]]}],"test":[{"input":[[1]]}]}"#, field: "train[0].input", contains: "31 rows")
        let wide = "[[" + Array(repeating: "1", count: 31).joined(separator: ",") + "]]"
        assertError(#"{"train":[],"test":[{"input":\#(wide)}]}"#, field: "test[0].input", contains: "31 columns")
        assertError(#"{"train":[{"input":[[1]],"output":[[10]]}],"test":[{"input":[[1]]}]}"#, field: "train[0].output", contains: "cell [0][0] is 10")
        assertError(#"{"train":[{"input":[[1]],"output":[[-1]]}],"test":[{"input":[[1]]}]}"#, field: "train[0].output", contains: "is -1")
        assertError(#"{"train":[{"input":[[1, 2.5]],"output":[[1]]}],"test":[{"input":[[1]]}]}"#, field: "train[0].input", contains: "not an integer")
        assertError(#"{"train":[{"input":[[1, "2"]],"output":[[1]]}],"test":[{"input":[[1]]}]}"#, field: "train[0].input", contains: "a string")
        assertError(#"{"train":[{"input":[[1, true]],"output":[[1]]}],"test":[{"input":[[1]]}]}"#, field: "train[0].input", contains: "a boolean")
        assertError(#"{"train":[{"input":[1],"output":[[1]]}],"test":[{"input":[[1]]}]}"#, field: "train[0].input", contains: "row 0")
    }

    func testMissingKeys() {
        assertError(#"{"test":[{"input":[[1]]}]}"#, field: nil, contains: "missing key \"train\"")
        assertError(#"{"train":[]}"#, field: nil, contains: "missing key \"test\"")
        assertError(#"{"train":[{"input":[[1]]}],"test":[{"input":[[1]]}]}"#, field: "train[0]", contains: "missing key \"output\"")
        assertError(#"{"train":[{"output":[[1]]}],"test":[{"input":[[1]]}]}"#, field: "train[0]", contains: "missing key \"input\"")
        assertError(#"{"train":[],"test":[]}"#, field: "test", contains: "no pairs")
    }

    func testInvalidJSONNamesFileAndLine() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("arccore-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        try Data("{\"train\": [\n  {\"input\": [[1]],, }]}".utf8).write(to: dir.appendingPathComponent("broken.json"))
        XCTAssertThrowsError(try TaskLoader.loadDirectory(dir, name: "x")) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("broken.json"), text)
            XCTAssertTrue(text.contains("line 2"), text)
        }
    }

    func testDirectoryDuplicateIdsAndNesting() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("arccore-\(UUID().uuidString)")
        let task = Data(#"{"train":[{"input":[[1]],"output":[[2]]}],"test":[{"input":[[3]],"output":[[4]]}]}"#.utf8)
        for sub in ["ConceptA", "ConceptB"] {
            try FileManager.default.createDirectory(at: dir.appendingPathComponent(sub), withIntermediateDirectories: true)
        }
        defer { try? FileManager.default.removeItem(at: dir) }
        try task.write(to: dir.appendingPathComponent("ConceptA/A1.json"))
        try task.write(to: dir.appendingPathComponent("ConceptB/B1.json"))
        let set = try TaskLoader.loadDirectory(dir, name: "nested")
        XCTAssertEqual(set.tasks.map(\.id), ["A1", "B1"])
        try task.write(to: dir.appendingPathComponent("ConceptB/A1.json"))
        XCTAssertThrowsError(try TaskLoader.loadDirectory(dir, name: "dup")) { XCTAssertTrue("\($0)".contains("duplicate task id"), "\($0)") }
    }

    func testKaggleLayoutSolutionsAndSpellings() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("arccore-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let challenges = #"{"aa":{"train":[{"input":[[1]],"output":[[2]]}],"test":[{"input":[[3]]},{"input":[[4]]}]},"bb":{"train":[],"test":[{"input":[[5]]}]}}"#
        try Data(challenges.utf8).write(to: dir.appendingPathComponent("arc-agi_evaluation-challenges.json"))
        var set = try TaskLoader.loadKaggle(directory: dir, split: "evaluation")
        XCTAssertEqual(set.tasks.map(\.id), ["aa", "bb"], "challenge order is kept")
        XCTAssertFalse(set.tasks[0].hasSolutions)
        try Data(#"{"aa":[[[6]],[[7]]],"bb":[[[8]]]}"#.utf8).write(to: dir.appendingPathComponent("arc-agi_evaluation_solutions.json"))
        set = try TaskLoader.loadKaggle(directory: dir, split: "evaluation")
        XCTAssertEqual(set.tasks[0].test[1].output?.cells, [7])
        XCTAssertTrue(set.tasks.allSatisfy(\.hasSolutions))
        // Solutions count differing from the test inputs.
        try Data(#"{"aa":[[[6]]],"bb":[[[8]]]}"#.utf8).write(to: dir.appendingPathComponent("arc-agi_evaluation_solutions.json"))
        XCTAssertThrowsError(try TaskLoader.loadKaggle(directory: dir, split: "evaluation")) { error in
            let e = error as? ARCDataError
            XCTAssertEqual(e?.task, "aa")
            XCTAssertTrue(e?.message.contains("1 solutions but the challenge has 2 test inputs") ?? false, "\(error)")
        }
        // Duplicate ids in a combined file.
        try Data(#"{"aa":{"train":[],"test":[{"input":[[3]]}]},"aa":{"train":[],"test":[{"input":[[3]]}]}}"#.utf8)
            .write(to: dir.appendingPathComponent("arc-agi_evaluation-challenges.json"))
        try FileManager.default.removeItem(at: dir.appendingPathComponent("arc-agi_evaluation_solutions.json"))
        XCTAssertThrowsError(try TaskLoader.loadKaggle(directory: dir, split: "evaluation")) { XCTAssertTrue("\($0)".contains("duplicate task id"), "\($0)") }
    }

    func testJSONParserEdgeCases() throws {
        XCTAssertEqual(try JSONParser.parse(Data(#"{"a":[1,-2,3.5,"x\u00e9\n",null,true]}"#.utf8)),
                       .object([("a", .array([.int(1), .int(-2), .double(3.5), .string("xé\n"), .null, .bool(true)]))]))
        XCTAssertThrowsError(try JSONParser.parse(Data("[1,2".utf8)))
        XCTAssertThrowsError(try JSONParser.parse(Data("[1] x".utf8)))
        XCTAssertThrowsError(try JSONParser.parse(Data("[01x]".utf8)))
    }

    func testAtomicWriteReplacesWholeFile() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("arccore-\(UUID().uuidString)")
        defer { try? FileManager.default.removeItem(at: dir) }
        let f = dir.appendingPathComponent("out.json")
        try AtomicFile.write("first", to: f)
        try AtomicFile.write("second", to: f)
        XCTAssertEqual(try String(contentsOf: f, encoding: .utf8), "second")
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: dir.path), ["out.json"])
    }
}
