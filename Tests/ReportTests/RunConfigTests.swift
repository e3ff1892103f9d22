// The report's reading of a run's config.json: nested objects become dotted entries, and the
// highlighted values are found in the current layout (Training's RunConfiguration: one
// "training" object) and in the earlier flat one.
import ARCCore
import Foundation
@testable import Report
import XCTest

final class RunConfigTests: XCTestCase {
    func load(_ text: String) throws -> RunConfig {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("run-config-\(UUID().uuidString.prefix(8)).json")
        defer { try? FileManager.default.removeItem(at: url) }
        try Data(text.utf8).write(to: url)
        return try RunConfig.load(from: url)
    }

    func testBothLayoutsGiveTheHighlightedValues() throws {
        let current = try load("""
            {"format":"arc-pipeline-run-2","preset":"cpu","threads":1,"training":{"maxSteps":6,"model":{"hiddenSize":16,"numHeads":2},\
            "trainer":{"batchSize":4,"learningRate":0.001,"seed":3}},"empty":{}}
            """)
        XCTAssertEqual(current.entries.map(\.key), ["format", "preset", "threads", "training.maxSteps", "training.model.hiddenSize",
                                                    "training.model.numHeads", "training.trainer.batchSize", "training.trainer.learningRate",
                                                    "training.trainer.seed", "empty"])
        let flat = try load(#"{"preset": "cpu", "hidden_size": 16, "num_heads": 2, "batch_size": 4, "lr": 0.001, "seed": 3, "model": {"hiddenSize": 99}}"#)
        for config in [current, flat] {
            XCTAssertEqual(config.number("hidden_size"), 16)
            XCTAssertEqual(config.number("num_heads"), 2)
            XCTAssertEqual(config.number("batch_size"), 4)
            XCTAssertEqual(config.number("lr"), 0.001)
            XCTAssertEqual(config.number("seed"), 3)
            XCTAssertEqual(config["preset"], .string("cpu"))
            XCTAssertNil(config["H_layers"])
        }
        XCTAssertEqual(flat["model.hiddenSize"], .int(99), "an entry's own key comes first")
    }
}
