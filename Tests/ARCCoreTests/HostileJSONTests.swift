// The JSON parser and the task loaders on hostile text: unpaired surrogate escapes, invalid UTF-8,
// numbers out of range, deep nesting, truncation and duplicate keys each throw one error that
// names the file, task and key; none traps.
import ARCCore
import Foundation
import XCTest

final class HostileJSONTests: XCTestCase {
    private func parseError(_ text: String, line: UInt = #line) -> String {
        parseError(Data(text.utf8), line: line)
    }

    private func parseError(_ data: Data, line: UInt = #line) -> String {
        do {
            let value = try JSONParser.parse(data)
            XCTFail("parsed \(value) instead of throwing", line: line)
            return ""
        } catch {
            return "\(error)"
        }
    }

    private func folder() throws -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("arccore-hostile-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        addTeardownBlock { try? FileManager.default.removeItem(at: url) }
        return url
    }

    func testUnpairedSurrogatesThrowInsteadOfTrapping() {
        // A high surrogate followed by an escape that is not a low surrogate used to overflow.
        XCTAssertTrue(parseError(#"{"\ud800\u0041":[]}"#).contains("unpaired UTF-16 surrogate"))
        XCTAssertTrue(parseError(#"["\ud800"]"#).contains("unpaired"))
        XCTAssertTrue(parseError(#"["\ud800x"]"#).contains("unpaired"))
        XCTAssertTrue(parseError(#"["\udc00"]"#).contains("unpaired"))
        XCTAssertTrue(parseError(#"["\ud800\ud800"]"#).contains("unpaired"))
        XCTAssertTrue(parseError(#"["\ud800\u"]"#).contains("escape"))
        // A proper pair still decodes.
        XCTAssertEqual(try JSONParser.parse(Data(#"["\ud83d\ude00"]"#.utf8)), .array([.string("\u{1F600}")]))
    }

    func testInvalidUTF8AndControlCharactersThrow() {
        XCTAssertTrue(parseError(Data([0x5B, 0x22, 0xFF, 0x22, 0x5D])).contains("UTF-8"))         // ["\xFF"]
        XCTAssertTrue(parseError(Data([0x5B, 0x22, 0xC0, 0x80, 0x22, 0x5D])).contains("UTF-8"))   // overlong NUL
        XCTAssertTrue(parseError(Data([0x5B, 0x22, 0xED, 0xA0, 0x80, 0x22, 0x5D])).contains("UTF-8"))  // raw surrogate
        XCTAssertTrue(parseError("[\"a\nb\"]").contains("control character"))
    }

    func testNumbersOutOfRangeThrowOrWidenWithoutTrapping() throws {
        XCTAssertTrue(parseError("[1e400]").contains("out of range"))
        XCTAssertTrue(parseError("[-1e99999]").contains("out of range"))
        XCTAssertEqual(try JSONParser.parse(Data("[99999999999999999999]".utf8)), .array([.double(1e20)]))
        XCTAssertEqual(try JSONParser.parse(Data("[-9223372036854775808]".utf8)), .array([.int(Int.min)]))
        let longDigits = "[" + String(repeating: "9", count: 100_000) + "]"
        XCTAssertTrue(parseError(longDigits).contains("out of range"))
    }

    func testDeepNestingIsBoundedNotAStackOverflow() throws {
        let deep = String(repeating: "[", count: 200_000) + String(repeating: "]", count: 200_000)
        XCTAssertTrue(parseError(deep).contains("nesting deeper than"))
        let objects = String(repeating: #"{"a":"#, count: 200_000) + "1" + String(repeating: "}", count: 200_000)
        XCTAssertTrue(parseError(objects).contains("nesting deeper than"))
        // Well inside the limit still parses (an ARC file nests 6 deep).
        let fine = String(repeating: "[", count: 100) + String(repeating: "]", count: 100)
        XCTAssertNoThrow(try JSONParser.parse(Data(fine.utf8)))
    }

    func testEveryTruncationOfATaskThrows() {
        let text = #"{"train":[{"input":[[1,2],[3,4]],"output":[[5]]}],"test":[{"input":[[6]]}],"note":"é\u00e9\ud83d\ude00"}"#
        let bytes = Array(text.utf8)
        XCTAssertNoThrow(try JSONParser.parse(Data(bytes)))
        for length in 0..<bytes.count {
            XCTAssertThrowsError(try JSONParser.parse(Data(bytes[0..<length])), "prefix of \(length) bytes")
        }
    }

    func testDuplicateKeysAreRefusedWithTheirPath() {
        let message = parseError(#"{"a":{"b":[{"c":1,"c":2}]}}"#)
        XCTAssertTrue(message.contains(#"duplicate key "c""#) && message.contains("a.b[0]"), message)
    }

    func testTaskFileWithDuplicateTrainKeyNamesFileTaskAndKey() throws {
        let dir = try folder()
        let file = dir.appendingPathComponent("t1.json")
        try Data(#"{"train":[{"input":[[1]],"output":[[2]]}],"test":[{"input":[[1]]}],"train":[]}"#.utf8).write(to: file)
        XCTAssertThrowsError(try TaskLoader.loadTaskFile(file)) { error in
            guard let e = error as? ARCDataError else { return XCTFail("not an ARCDataError: \(error)") }
            XCTAssertEqual(e.file, file.path)
            XCTAssertEqual(e.task, "t1")
            XCTAssertTrue(e.message.contains(#"duplicate key "train""#), "\(e)")
        }
        // Inside a pair, the pair is named too.
        try Data(#"{"train":[{"input":[[1]],"output":[[2]],"input":[[3]]}],"test":[{"input":[[1]]}]}"#.utf8).write(to: file)
        XCTAssertThrowsError(try TaskLoader.loadTaskFile(file)) { error in
            XCTAssertEqual((error as? ARCDataError)?.task, "t1")
            XCTAssertEqual((error as? ARCDataError)?.field, "train[0]")
            XCTAssertTrue("\(error)".contains(#"duplicate key "input""#), "\(error)")
        }
    }

    func testKaggleFileWithDuplicateTrainKeyNamesTheTask() throws {
        let dir = try folder()
        try Data(#"{"aa":{"train":[],"test":[{"input":[[3]]}]},"bb":{"train":[],"test":[{"input":[[3]]}],"train":[]}}"#.utf8)
            .write(to: dir.appendingPathComponent("arc-agi_evaluation_challenges.json"))
        XCTAssertThrowsError(try TaskLoader.loadKaggle(directory: dir, split: "evaluation")) { error in
            guard let e = error as? ARCDataError else { return XCTFail("not an ARCDataError: \(error)") }
            XCTAssertTrue(e.file.hasSuffix("arc-agi_evaluation_challenges.json"), e.file)
            XCTAssertEqual(e.task, "bb")
            XCTAssertTrue(e.message.contains(#"duplicate key "train""#), "\(e)")
        }
    }

    func testSurrogateInsideATaskFileIsNamed() throws {
        let dir = try folder()
        let file = dir.appendingPathComponent("t2.json")
        try Data(#"{"train":[],"test":[{"input":[[1]]}],"\ud800\u0041":1}"#.utf8).write(to: file)
        XCTAssertThrowsError(try TaskLoader.loadTaskFile(file)) { error in
            XCTAssertEqual((error as? ARCDataError)?.file, file.path)
            XCTAssertTrue("\(error)".contains("surrogate"), "\(error)")
        }
    }
}
