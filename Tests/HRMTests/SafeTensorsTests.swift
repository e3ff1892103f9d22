// safetensors I/O and checkpoints: round trip, dtypes (F32/F64/BF16/F16/I32/I64), the
// `_orig_mod.` prefix, error messages, loading the reference's weights, config/preset and init.
import Foundation
import Kernels
import TestHelpers
import XCTest
@testable import HRM

final class SafeTensorsTests: XCTestCase {
    func temporaryURL(_ name: String) -> URL {
        FileManager.default.temporaryDirectory.appendingPathComponent("hrm-tests-\(getpid())-\(name)")
    }

    /// Builds a file by hand: header JSON + raw bytes.
    func handMade(header: String, body: [UInt8]) -> Data {
        var data = Data()
        var length = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8))
        data.append(contentsOf: body)
        return data
    }

    func testDtypesAndPrefix() throws {
        // BF16 1.5 = 0x3FC0; F16 -2.0 = 0xC000, F16 subnormal 2^-24 = 0x0001; I64 -3; F64 0.25; I32 7
        var body: [UInt8] = [0xC0, 0x3F, 0x00, 0xC0, 0x01, 0x00]
        body += withUnsafeBytes(of: Int64(-3).littleEndian, Array.init)
        body += withUnsafeBytes(of: (0.25).bitPattern.littleEndian, Array.init)
        body += withUnsafeBytes(of: Int32(7).littleEndian, Array.init)
        let header = """
        {"_orig_mod.a":{"dtype":"BF16","shape":[1],"data_offsets":[0,2]},"b":{"dtype":"F16","shape":[2],"data_offsets":[2,6]},\
        "c":{"dtype":"I64","shape":[1],"data_offsets":[6,14]},"d":{"dtype":"F64","shape":[1,1],"data_offsets":[14,22]},\
        "e":{"dtype":"I32","shape":[],"data_offsets":[22,26]},"__metadata__":{"k":"v"}}
        """
        let file = try SafeTensorsFile.parse(handMade(header: header, body: body), source: "hand")
        XCTAssertEqual(file["a"]?.floats, [1.5])
        XCTAssertNil(file["_orig_mod.a"])
        XCTAssertEqual(file["b"]?.floats, [-2.0, Float(1) / Float(1 << 24)])
        XCTAssertEqual(file["c"]?.integers, [-3])
        XCTAssertEqual(file["d"]?.floats, [0.25])
        XCTAssertEqual(file["d"]?.shape, [1, 1])
        XCTAssertEqual(file["e"]?.integers, [7])
        XCTAssertEqual(file.metadata, ["k": "v"])
    }

    func testErrorsNameTheTensor() {
        let header = #"{"w":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}}"#
        XCTAssertThrowsError(try SafeTensorsFile.parse(handMade(header: header, body: [UInt8](repeating: 0, count: 8)), source: "x.safetensors")) { error in
            XCTAssertTrue("\(error)".contains("x.safetensors") && "\(error)".contains("tensor w"), "\(error)")
        }
        XCTAssertThrowsError(try SafeTensorsFile.parse(Data([1, 2, 3]), source: "short")) { error in
            XCTAssertTrue("\(error)".contains("short"), "\(error)")
        }
        let unknown = #"{"w":{"dtype":"Q8","shape":[1],"data_offsets":[0,1]}}"#
        XCTAssertThrowsError(try SafeTensorsFile.parse(handMade(header: unknown, body: [0]), source: "q")) { error in
            XCTAssertTrue("\(error)".contains("unsupported dtype Q8"), "\(error)")
        }
    }

    func testModelSaveLoadRoundTripKeepsLogits() throws {
        let config = HRMConfig(hiddenSize: 16, numHeads: 2, hLayers: 1, lLayers: 2, puzzleEmbeddingDim: 16, numPuzzleIdentifiers: 4, seqLen: 9)
        let model = HRMModel<Float>(config: config, maxBatch: 2)
        model.parameters.initialize(seed: 5)
        for i in 0..<model.parameters.puzzleEmbedding.count { model.parameters.puzzleEmbedding[i] = Float(i % 7) * 0.1 }
        let url = temporaryURL("roundtrip.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try model.save(to: url, metadata: ["step": "3"])
        let file = try SafeTensorsFile.read(url)
        XCTAssertEqual(try HRMModel<Float>.storedConfig(in: file, source: url.path), config)
        XCTAssertEqual(file.metadata["step"], "3")
        XCTAssertEqual(file[ParameterLayout.puzzleEmbeddingName]?.shape, [5, 16])
        XCTAssertEqual(file["model.inner.L_level.layers.1.mlp.down_proj.weight"]?.shape, [16, 256])
        let loaded = HRMModel<Float>(config: config, maxBatch: 2)
        try loaded.load(from: url)
        XCTAssertEqual(loaded.parameters.values.array, model.parameters.values.array)
        XCTAssertEqual(loaded.parameters.puzzleEmbedding.array, model.parameters.puzzleEmbedding.array)
        let inputs: [Int32] = (0..<18).map { Int32($0 % 12) }
        let c1 = HRMCarry<Float>(config: config, batch: 2), c2 = HRMCarry<Float>(config: config, batch: 2)
        c1.resetAll(model: model); c2.resetAll(model: loaded)
        model.innerStep(carry: c1, inputs: inputs, puzzleIdentifiers: [1, 4], withGradient: false)
        let logits = model.logits.array
        loaded.innerStep(carry: c2, inputs: inputs, puzzleIdentifiers: [1, 4], withGradient: false)
        XCTAssertEqual(loaded.logits.array, logits)
        // Wrong shape is named.
        let other = HRMModel<Float>(config: HRMConfig(hiddenSize: 32, numHeads: 2, hLayers: 1, lLayers: 2, puzzleEmbeddingDim: 16, numPuzzleIdentifiers: 4, seqLen: 9), maxBatch: 1)
        XCTAssertThrowsError(try other.load(from: url)) { error in
            XCTAssertTrue("\(error)".contains("model.inner.embed_tokens.embedding_weight"), "\(error)")
        }
    }

    func testLoadsReferenceWeightsWithIdenticalLogits() throws {
        // The reference's weights file (model_a) loads by name; the Swift model's own save of them
        // reloads bit-identically, and both give the reference's logits (checked in ModelGoldenTests).
        let fixture = try Fixtures.load("model_a.safetensors")
        let config = HRMConfig(hiddenSize: 32, numHeads: 2, hLayers: 1, lLayers: 1, haltMaxSteps: 2, puzzleEmbeddingDim: 32, numPuzzleIdentifiers: 4, seqLen: 16)
        let model = HRMModel<Float>(config: config, maxBatch: 3)
        try model.load(from: fixture, source: "model_a")
        let url = temporaryURL("model_a_resaved.safetensors")
        defer { try? FileManager.default.removeItem(at: url) }
        try model.save(to: url)
        let reread = try SafeTensorsFile.read(url)
        for entry in model.parameters.layout.entries {
            XCTAssertEqual(reread[entry.name]?.floats, fixture[entry.name]?.floats, entry.name)
        }
        XCTAssertEqual(reread[ParameterLayout.puzzleEmbeddingName]?.floats, fixture[ParameterLayout.puzzleEmbeddingName]?.floats)
    }

    func testPresetsAndShapes() throws {
        let paper = try HRMConfig.preset(named: "paper")
        XCTAssertEqual(paper.intermediateSize, 1536)
        XCTAssertEqual(paper.puzzleTokens, 1)
        XCTAssertEqual(paper.totalLength, 901)
        let layout = ParameterLayout(config: paper)
        // 27M parameters without the puzzle table (paper figure).
        // 8 blocks x (3D*D + D*D + 2I*D + D*I) + 2 x 12*D + (2*D + 2) = 27,276,290
        XCTAssertEqual(layout.parameterCount, 8 * (3 * 512 * 512 + 512 * 512 + 2 * 1536 * 512 + 512 * 1536) + 2 * 12 * 512 + 2 * 512 + 2)
        XCTAssertEqual(layout.parameterCount, 27_276_290)
        XCTAssertEqual(layout["model.inner.H_level.layers.3.mlp.gate_up_proj.weight"].shape, [3072, 512])
        XCTAssertEqual(layout["model.inner.L_level.layers.0.mlp.down_proj.weight"].shape, [512, 1536])
        XCTAssertFalse(layout["model.inner.H_init"].trainable)
        XCTAssertEqual(try HRMConfig.preset(named: "cpu-bench").hiddenSize, 128)
        XCTAssertThrowsError(try HRMConfig.preset(named: "huge")) { XCTAssertTrue("\($0)".contains("huge")) }
        var bad = HRMConfig.cpu
        bad.numHeads = 3
        XCTAssertThrowsError(try bad.validate()) { XCTAssertTrue("\($0)".contains("numHeads")) }
    }

    func testInitFollowsSpec() {
        let config = HRMConfig(hiddenSize: 64, numHeads: 4, hLayers: 1, lLayers: 1, numPuzzleIdentifiers: 3, seqLen: 4)
        let arena = ParameterArena<Float>(config: config)
        arena.initialize(seed: 11)
        func stats(_ name: String) -> (std: Double, maxAbs: Double) {
            let e = arena.layout[name]
            var sum = 0.0, squares = 0.0, maxAbs = 0.0
            for i in 0..<e.count { let v = Double(arena.values[e.offset + i]); sum += v; squares += v * v; maxAbs = max(maxAbs, abs(v)) }
            let mean = sum / Double(e.count)
            return ((squares / Double(e.count) - mean * mean).squareRoot(), maxAbs)
        }
        let gu = stats("model.inner.H_level.layers.0.mlp.gate_up_proj.weight")  // 512 x 64 values, std 1/8
        XCTAssertEqual(gu.std, 0.125, accuracy: 0.004)
        XCTAssertLessThanOrEqual(gu.maxAbs, 2 * 0.125 / TruncatedNormal.truncatedStd() + 1e-6)
        let down = stats("model.inner.H_level.layers.0.mlp.down_proj.weight")  // fan_in 256
        XCTAssertEqual(down.std, 1.0 / 16, accuracy: 0.003)
        let e = arena.layout["model.inner.q_head.bias"]
        XCTAssertEqual(arena.values[e.offset], -5)
        XCTAssertEqual(arena.values[e.offset + 1], -5)
        XCTAssertEqual(stats("model.inner.q_head.weight").maxAbs, 0)
        XCTAssertEqual(arena.puzzleEmbedding.array.max(), 0)
        XCTAssertEqual(TruncatedNormal.truncatedStd(), 0.8796256610342398, accuracy: 1e-12)
        XCTAssertGreaterThan(stats("model.inner.H_init").std, 0.5)
    }
}
