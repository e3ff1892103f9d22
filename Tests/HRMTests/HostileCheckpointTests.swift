// Model files edited by hand or from elsewhere: safetensors headers whose sizes overflow, whose
// offsets overlap or leave the body, stored configs that cannot build a model (numHeads 0,
// halt_max_steps 0, ...) and non-finite weights. Each is refused with the file and the tensor
// or field named; none traps or loads silently.
import Foundation
import XCTest
@testable import HRM

final class HostileCheckpointTests: XCTestCase {
    /// A safetensors file from header text and body bytes.
    private func file(_ header: String, body: [UInt8]) -> Data {
        var data = Data()
        var length = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: body)
        return data
    }

    private func assertRefused(_ header: String, body: [UInt8] = [UInt8](repeating: 0, count: 16), mentions: [String], line: UInt = #line) {
        XCTAssertThrowsError(try SafeTensorsFile.parse(file(header, body: body), source: "m.safetensors"), line: line) { error in
            let text = "\(error)"
            XCTAssertTrue(text.contains("m.safetensors"), "names the file: \(text)", line: line)
            for m in mentions { XCTAssertTrue(text.contains(m), "mentions '\(m)': \(text)", line: line) }
        }
    }

    func testShapeWhoseSizeOverflowsIsRefused() {
        // 2^62 x 4 elements of 4 bytes: the byte count wraps around.
        assertRefused(#"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#, mentions: ["tensor w", "shape"])
        assertRefused(#"{"w":{"dtype":"I64","shape":[4611686018427387904,4,4],"data_offsets":[0,0]}}"#, mentions: ["tensor w"])
        assertRefused(#"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, mentions: ["tensor w", "shape"])
        assertRefused(#"{"w":{"dtype":"F32","shape":[1e30],"data_offsets":[0,4]}}"#, mentions: ["tensor w", "shape"])
    }

    func testOffsetsOutOfRangeOrOverlappingAreRefused() {
        assertRefused(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}"#,
                      mentions: ["overlap", "a", "b"])
        assertRefused(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[12,20]}}"#, mentions: ["tensor a", "data_offsets"])
        assertRefused(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,1e30]}}"#, mentions: ["tensor a", "data_offsets"])
        assertRefused(#"{"a":{"dtype":"F32","shape":[2],"data_offsets":[8,0]}}"#, mentions: ["tensor a", "data_offsets"])
        // The same name twice, directly or through the torch.compile prefix.
        assertRefused(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#, mentions: ["a"])
        assertRefused(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"_orig_mod.a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
                      mentions: ["a"])
        assertRefused(#"{"__metadata__":{"k":1}}"#, mentions: ["__metadata__"])
        assertRefused(#"["not an object"]"#, mentions: ["header"])
    }

    func testHeaderLengthIsChecked() {
        var data = Data([0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x7F])
        data.append(contentsOf: [UInt8](repeating: 0x20, count: 64))
        XCTAssertThrowsError(try SafeTensorsFile.parse(data, source: "m.safetensors")) { XCTAssertTrue("\($0)".contains("header length"), "\($0)") }
        XCTAssertThrowsError(try SafeTensorsFile.parse(file(#"{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}"#, body: [0, 0, 0, 0]),
                                                       source: "m.safetensors")) { XCTAssertTrue("\($0)".contains("m.safetensors"), "\($0)") }
    }

    /// A stored config (the metadata a checkpoint carries) with one field replaced.
    private func storedConfig(_ field: String, _ value: Any) throws -> String {
        var config = HRMConfig.cpu
        config.seqLen = 4
        config.numPuzzleIdentifiers = 2
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: JSONEncoder().encode(config)) as? [String: Any])
        object[field] = value
        return String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    func testStoredConfigsThatCannotBuildAModelAreRefused() throws {
        let cases: [(String, Any)] = [
            ("numHeads", 0), ("numHeads", 3), ("numHeads", -2), ("expansion", 0), ("expansion", -1.5), ("hLayers", 0), ("lLayers", -1),
            ("hCycles", 0), ("haltMaxSteps", 0), ("haltMaxSteps", -4), ("hiddenSize", 0), ("vocabSize", 4_611_686_018_427_387_904),
            ("seqLen", 0), ("puzzleEmbeddingDim", -1), ("numPuzzleIdentifiers", -3), ("hiddenSize", 1 << 40),
        ]
        for (field, value) in cases {
            let text = try storedConfig(field, value)
            let file = SafeTensorsFile(tensors: [:], metadata: ["config": text])
            XCTAssertThrowsError(try HRMModel<Float>.storedConfig(in: file, source: "m.safetensors"), "\(field) \(value)") { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains("m.safetensors") && message.contains(field), "\(field) \(value): \(message)")
                XCTAssertFalse(message.contains("DecodingError"), message)
            }
        }
        // The unedited config still reads.
        let good = SafeTensorsFile(tensors: [:], metadata: ["config": try storedConfig("seqLen", 4)])
        XCTAssertEqual(try HRMModel<Float>.storedConfig(in: good, source: "m.safetensors")?.seqLen, 4)
    }

    /// Checkpoints of earlier versions stored the trainer's batch size and exploration probability
    /// in the model config: they still read (the keys are ignored), whatever their values.
    func testStoredConfigsWithTheEarlierTrainerKeysStillRead() throws {
        var object = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try storedConfig("seqLen", 4).utf8)) as? [String: Any])
        object["batchSize"] = 0
        object["haltExplorationProbability"] = 7.5
        let text = String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
        let config = try XCTUnwrap(try HRMModel<Float>.storedConfig(in: SafeTensorsFile(tensors: [:], metadata: ["config": text]), source: "m.safetensors"))
        var expected = HRMConfig.cpu
        expected.seqLen = 4
        expected.numPuzzleIdentifiers = 2
        XCTAssertEqual(config, expected)
        XCTAssertFalse(String(decoding: try JSONEncoder().encode(config), as: UTF8.self).contains("batchSize"), "the model config holds no batch size")
    }

    /// A batch the model cannot take (out of range, or one activation tensor too large) is refused naming the batch.
    func testBatchSizesTheModelCannotTakeAreRefused() throws {
        var config = HRMConfig.cpu
        config.seqLen = 4
        XCTAssertNoThrow(try config.validate(batchSize: 1))
        XCTAssertNoThrow(try config.validate(batchSize: HRMConfig.maximumBatchSize))
        for batch in [0, -3, HRMConfig.maximumBatchSize + 1] {
            XCTAssertThrowsError(try config.validate(batchSize: batch)) { XCTAssertTrue("\($0)".contains("batch size is \(batch)"), "\($0)") }
        }
        var wide = HRMConfig.cpu
        wide.hiddenSize = 8192
        wide.numHeads = 32
        wide.puzzleEmbeddingDim = 0
        XCTAssertNoThrow(try wide.validate())
        XCTAssertNoThrow(try wide.validate(batchSize: 2048))  // 2048 x 900 x 8192 values: just under the cap
        XCTAssertThrowsError(try wide.validate(batchSize: 4096)) { XCTAssertTrue("\($0)".contains("a batch of 4096"), "\($0)") }
        var broken = HRMConfig.cpu
        broken.numHeads = 3
        XCTAssertThrowsError(try broken.validate(batchSize: 1)) { XCTAssertTrue("\($0)".contains("numHeads"), "\($0)") }
    }

    func testNonFiniteWeightsAreRefusedNamingTheTensor() throws {
        let config = HRMConfig(hiddenSize: 16, numHeads: 2, hLayers: 1, lLayers: 1, puzzleEmbeddingDim: 16, numPuzzleIdentifiers: 2, seqLen: 4)
        let model = HRMModel<Float>(config: config, maxBatch: 2)
        model.parameters.initialize(seed: 1)
        let saved = SafeTensorsFile(tensors: model.stateTensors(), metadata: [:])
        XCTAssertNoThrow(try HRMModel<Float>(config: config, maxBatch: 2).load(from: saved, source: "m.safetensors"))
        for (name, bad) in [("model.inner.lm_head.weight", Float.nan), ("model.inner.H_level.layers.0.mlp.down_proj.weight", Float.infinity),
                            (ParameterLayout.puzzleEmbeddingName, -Float.infinity)] {
            var edited = saved
            let tensor = try XCTUnwrap(edited[name])
            var values = try XCTUnwrap(tensor.floats)
            values[3] = bad
            edited.tensors[name] = SafeTensor(name: name, shape: tensor.shape, floats: values)
            XCTAssertThrowsError(try HRMModel<Float>(config: config, maxBatch: 2).load(from: edited, source: "m.safetensors"), name) { error in
                XCTAssertTrue("\(error)".contains(name) && "\(error)".contains("m.safetensors"), "\(error)")
            }
        }
    }
}
