// TRMConfig and TRM's parameter layout (docs/SPEC.md §9): the published ARC model's sizes (16 puzzle
// tokens, S = 916, about 7M parameters under the official names, one network, no H level), the
// puzzle-token rule, the configurations refused with the field named, and the JSON round trip.
import Foundation
import Kernels
import XCTest
@testable import HRM

final class TRMConfigTests: XCTestCase {
    func testPaperConfiguration() throws {
        let config = TRMConfig.paper
        try config.validate(batchSize: 768)
        XCTAssertEqual(config.puzzleTokens, 16)
        XCTAssertEqual(config.totalLength, 916)
        XCTAssertEqual(config.intermediateSize, 1536)
        let layout = ParameterLayout(trm: config)
        // 2 x (3D*D + D*D + 2I*D + D*I) + 2 * 12 * D + 2 * D + 2, D 512, I 1536.
        XCTAssertEqual(layout.parameterCount, 6_829_058)
        XCTAssertFalse(layout.entries.contains { $0.name.contains("H_level") })
        let p = ParameterLayout.prefix
        for name in ["L_level.layers.1.self_attn.qkv_proj.weight", "L_level.layers.1.mlp.down_proj.weight", "embed_tokens.embedding_weight",
                     "lm_head.weight", "q_head.weight", "q_head.bias", "H_init", "L_init"] {
            XCTAssertNotNil(layout.entry(p + name), name)
        }
        XCTAssertNil(layout.entry(p + "L_level.layers.2.self_attn.qkv_proj.weight"))
        XCTAssertEqual(layout[p + "L_level.layers.0.mlp.gate_up_proj.weight"].shape, [3072, 512])
        XCTAssertFalse(layout[p + "H_init"].trainable)
        XCTAssertEqual(layout.trainableCount, layout[p + "H_init"].offset, "trainable tensors come first")
    }

    func testPuzzleTokenRule() throws {
        var config = TRMGradientTests.tinyConfig
        config.puzzleEmbeddingLength = 0
        XCTAssertEqual(config.puzzleTokens, 2, "0 means ceil(12 / 8)")
        config.puzzleEmbeddingLength = 5
        XCTAssertEqual(config.puzzleTokens, 5)
        XCTAssertEqual(config.totalLength, 14)
    }

    func testRefusedConfigurationsNameTheField() {
        func refused(_ change: (inout TRMConfig) -> Void, mentions: String, line: UInt = #line) {
            var config = TRMGradientTests.tinyConfig
            change(&config)
            XCTAssertThrowsError(try config.validate(), line: line) { error in
                XCTAssertTrue("\(error)".contains(mentions), "\(error)", line: line)
            }
        }
        refused({ $0.puzzleEmbeddingLength = 1 }, mentions: "puzzleEmbeddingDim 12 does not fit")
        refused({ $0.puzzleEmbeddingDim = 0 }, mentions: "without a puzzle embedding")
        refused({ $0.lLayers = 0 }, mentions: "lLayers is 0")
        refused({ $0.hCycles = 0 }, mentions: "hCycles is 0")
        refused({ $0.lCycles = -1 }, mentions: "lCycles is -1")
        refused({ $0.numHeads = 3 }, mentions: "multiple of numHeads")
        refused({ $0.puzzleEmbeddingLength = -2 }, mentions: "puzzleEmbeddingLength is -2")
        refused({ $0.numPuzzleIdentifiers = Int(Int32.max) }, mentions: "numPuzzleIdentifiers")
        var config = TRMGradientTests.tinyConfig
        config.puzzleEmbeddingDim = 0
        config.puzzleEmbeddingLength = 0
        XCTAssertNoThrow(try config.validate(), "no puzzle embedding and no puzzle tokens is valid")
        XCTAssertThrowsError(try TRMGradientTests.tinyConfig.validate(batchSize: 0))
    }

    func testJSONRoundTripAndValidationOnDecode() throws {
        let config = TRMConfig.paper
        let data = try JSONEncoder().encode(config)
        XCTAssertEqual(try JSONDecoder().decode(TRMConfig.self, from: data), config)
        var object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        object["puzzleEmbeddingLength"] = 0
        object["puzzleEmbeddingDim"] = 0
        object["lCycles"] = 0
        let bad = try JSONSerialization.data(withJSONObject: object)
        XCTAssertThrowsError(try JSONDecoder().decode(TRMConfig.self, from: bad)) { error in
            XCTAssertTrue("\(error)".contains("lCycles is 0"), "\(error)")
        }
    }
}
