// HRMConfig.trm and TRM's parameter layout (docs/SPEC.md §9): the published ARC model's sizes (16 puzzle
// tokens, S = 916, about 7M parameters under the official names, one network, no H level), the
// puzzle-token rule, the configurations refused with the field named, and the JSON round trip.
import Foundation
import Kernels
import XCTest
@testable import HRM

final class TRMConfigTests: XCTestCase {
    func testPaperConfiguration() throws {
        let config = HRMConfig.trmPaper
        try config.validate(batchSize: 768)
        XCTAssertEqual(config.puzzleTokens, 16)
        XCTAssertEqual(config.totalLength, 916)
        XCTAssertEqual(config.intermediateSize, 1536)
        let layout = ParameterLayout(config: config)
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
        func refused(_ change: (inout HRMConfig) -> Void, mentions: String, line: UInt = #line) {
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
        let config = HRMConfig.trmPaper
        let data = try JSONEncoder().encode(config)
        XCTAssertEqual(try JSONDecoder().decode(HRMConfig.self, from: data), config)
        var object = try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        object["puzzleEmbeddingLength"] = 0
        object["puzzleEmbeddingDim"] = 0
        object["lCycles"] = 0
        let bad = try JSONSerialization.data(withJSONObject: object)
        XCTAssertThrowsError(try JSONDecoder().decode(HRMConfig.self, from: bad)) { error in
            XCTAssertTrue("\(error)".contains("lCycles is 0"), "\(error)")
        }
    }

    /// One config type for both: TRM has no H layers, HRM no puzzle_emb_len; an HRM config is encoded
    /// with exactly the keys it had before TRM (run folders keep their reuse key), and a file without
    /// the architecture is HRM.
    func testArchitectureFieldsAndHRMEncoding() throws {
        var trm = TRMGradientTests.tinyConfig
        trm.hLayers = 1
        XCTAssertThrowsError(try trm.validate()) { XCTAssertTrue("\($0)".contains("hLayers is 1"), "\($0)") }
        var hrm = HRMConfig.cpu
        hrm.puzzleEmbeddingLength = 4
        XCTAssertThrowsError(try hrm.validate()) { XCTAssertTrue("\($0)".contains("puzzleEmbeddingLength is 4"), "\($0)") }
        let hrmKeys = try XCTUnwrap(try JSONSerialization.jsonObject(with: JSONEncoder().encode(HRMConfig.cpu)) as? [String: Any]).keys
        XCTAssertEqual(Set(hrmKeys), ["hiddenSize", "numHeads", "expansion", "hLayers", "lLayers", "hCycles", "lCycles", "haltMaxSteps",
                                      "puzzleEmbeddingDim", "numPuzzleIdentifiers", "vocabSize", "seqLen", "ropeTheta", "rmsNormEpsilon"])
        let trmObject = try XCTUnwrap(try JSONSerialization.jsonObject(with: JSONEncoder().encode(HRMConfig.trmPaper)) as? [String: Any])
        XCTAssertEqual(trmObject["architecture"] as? String, "trm")
        XCTAssertEqual(trmObject["noACTContinue"] as? Bool, true)
        let cpuObject = try XCTUnwrap(try JSONSerialization.jsonObject(with: JSONEncoder().encode(HRMConfig.trmCPU)) as? [String: Any])
        XCTAssertEqual(cpuObject["puzzleEmbeddingLength"] as? Int, 0, "a TRM config writes every field, its defaults too")
        XCTAssertEqual(try JSONDecoder().decode(HRMConfig.self, from: JSONEncoder().encode(HRMConfig.cpu)).architecture, .hrm)
        XCTAssertEqual(ModelPreset.paper.config(for: .trm), HRMConfig.trmPaper)
        for preset in ModelPreset.allCases {
            for architecture in ModelArchitecture.allCases {
                XCTAssertNoThrow(try preset.config(for: architecture).validate(), "\(preset) \(architecture)")
                XCTAssertEqual(preset.config(for: architecture).architecture, architecture)
            }
        }
        XCTAssertTrue(ReasoningModel<Float>.make(config: TRMGradientTests.tinyConfig, maxBatch: 1) is TRMModel<Float>)
        XCTAssertTrue(ReasoningModel<Float>.make(config: HRMConfig.cpu, maxBatch: 1) is HRMModel<Float>)
    }
}
