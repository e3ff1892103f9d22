// predictions.jsonl (the candidate table): exact text, round trip, strict reader errors, pass@K checks.
import ARCCore
import Foundation
import Voting
import XCTest

final class CandidateTableTests: XCTestCase {
    func sampleTable() -> CandidateTable {
        CandidateTable([
            RankedCandidates(key: TestInputKey(task: "t", testIndex: 0), candidates: [
                Candidate(grid: grid([[1, 2], [3, 4]]), votes: 3, meanQ: 0.75),
                Candidate(grid: grid([[5]]), votes: 1, meanQ: 1 / (1 + exp(-0.3))),
            ], undecodable: 2),
            RankedCandidates(key: TestInputKey(task: "t", testIndex: 1), candidates: []),
        ])
    }

    func testJSONLTextIsOneObjectPerTestInput() {
        let text = sampleTable().jsonlText()
        let lines = text.split(separator: "\n")
        XCTAssertEqual(lines.count, 2)
        XCTAssertEqual(String(lines[1]), #"{"task":"t","test_index":1,"undecodable":0,"candidates":[]}"#)
        XCTAssertTrue(lines[0].hasPrefix(#"{"task":"t","test_index":0,"undecodable":2,"candidates":[{"grid":[[1,2],[3,4]],"votes":3,"mean_q":0.75},{"grid":[[5]],"votes":1,"mean_q":0.5744"#), String(lines[0]))
    }

    func testWriteThenLoadRoundTripsExactly() throws {
        let dir = try temporaryFolder(self)
        let url = dir.appendingPathComponent("predictions.jsonl")
        let table = sampleTable()
        try table.write(to: url)
        XCTAssertEqual(try CandidateTable.load(from: url), table)
    }

    func testReaderErrorsNameLineTaskAndField() {
        func decode(_ text: String) throws { _ = try CandidateTable.decode(Data(text.utf8), file: "p.jsonl") }
        let good = #"{"task":"t","test_index":0,"candidates":[]}"#
        assertDataError(task: nil, messageContains: "invalid JSON") { try decode(good + "\n{\"task\":") }
        assertDataError(task: "t", field: "candidates[0].votes", messageContains: "positive integer") {
            try decode(#"{"task":"t","test_index":0,"candidates":[{"grid":[[1]],"votes":0,"mean_q":0.5}]}"#)
        }
        assertDataError(task: "t", field: "candidates[0].grid", messageContains: "ragged") {
            try decode(#"{"task":"t","test_index":0,"candidates":[{"grid":[[1],[1,2]],"votes":1,"mean_q":0.5}]}"#)
        }
        assertDataError(task: "t", field: "candidates[0].mean_q", messageContains: "0...1") {
            try decode(#"{"task":"t","test_index":0,"candidates":[{"grid":[[1]],"votes":1,"mean_q":1.5}]}"#)
        }
        assertDataError(task: "t", field: "test_index", messageContains: "duplicate") { try decode(good + "\n\n" + good) }
        do {
            _ = try CandidateTable.decode(Data((good + "\n{}").utf8), file: "p.jsonl")
            XCTFail("expected an error")
        } catch let e as ARCDataError {
            XCTAssertEqual(e.file, "p.jsonl:2")
            XCTAssertEqual(e.field, "task")
        } catch { XCTFail("\(error)") }
    }

    func testCountsAboveTheMaximumAreRefusedNamingLineAndField() throws {
        func line(votes: Int, undecodable: Int) -> String {
            #"{"task":"t","test_index":0,"undecodable":"# + "\(undecodable)" + #","candidates":[{"grid":[[1]],"votes":"# + "\(votes)" + #","mean_q":0.5}]}"#
        }
        let most = CandidateTable.maximumCount
        let table = try CandidateTable.decode(Data(line(votes: most, undecodable: most).utf8), file: "p.jsonl")
        XCTAssertEqual(table.entries.first?.candidates.first?.votes, most)
        XCTAssertEqual(table.entries.first?.undecodable, most)
        for votes in [most + 1, Int.max] {
            assertDataError(task: "t", field: "candidates[0].votes", messageContains: "is \(votes), expected 1...\(most)") {
                _ = try CandidateTable.decode(Data(line(votes: votes, undecodable: 0).utf8), file: "p.jsonl")
            }
        }
        for undecodable in [most + 1, Int.max] {
            assertDataError(task: "t", field: "undecodable", messageContains: "is \(undecodable), expected 0...\(most)") {
                _ = try CandidateTable.decode(Data(("\n" + line(votes: 1, undecodable: undecodable)).utf8), file: "p.jsonl")
            }
        }
        do {
            _ = try CandidateTable.decode(Data(("\n" + line(votes: Int.max, undecodable: 0)).utf8), file: "p.jsonl")
            XCTFail("expected an error")
        } catch let e as ARCDataError {
            XCTAssertEqual(e.file, "p.jsonl:2")
        }
    }

    func testPassAtKCountsMissingEntriesAndRejectsUnknownTasks() throws {
        let solutions = SolutionSet(taskIds: ["t", "v"], outputs: ["t": [grid([[5]]), grid([[0]])], "v": [grid([[1]])]], source: "sol.json")
        let pass = try sampleTable().passAtK(solutions: solutions, ks: [1, 2])
        // t/0: truth [[5]] is rank 2; t/1: no candidates; v/0: no entry.
        XCTAssertEqual(pass.results.map(\.correctOutputs), [0, 1])
        XCTAssertEqual(pass.results[1].perOutput, 1.0 / 3.0, accuracy: 1e-12)
        XCTAssertEqual(pass.results[1].taskAverage, (0.5 + 0) / 2, accuracy: 1e-12)
        XCTAssertEqual(pass.missingEntries, 1)

        let other = SolutionSet(taskIds: ["v"], outputs: ["v": [grid([[1]])]], source: "sol.json")
        assertDataError(task: "t", messageContains: "not in sol.json") { _ = try sampleTable().passAtK(solutions: other) }
        let short = SolutionSet(taskIds: ["t"], outputs: ["t": [grid([[1]])]], source: "sol.json")
        assertDataError(task: "t", field: "test_index", messageContains: "has 1 test outputs") { _ = try sampleTable().passAtK(solutions: short) }
    }
}
