// Golden test of the TRM inner step (docs/SPEC.md §9) against the PyTorch reference's fixture
// trm_tiny (D 8, 2 layers, H_cycles 2, L_cycles 3, P 3 puzzle tokens from a 12-wide row, batch 2,
// slot 1 from a random carry): shapes first, then the input embedding, the carry after the cycles
// without gradient, the outputs and new carry, a second step, and the gradient of the fixture's fixed
// linear loss through the whole last cycle for every tensor. Float32 against float64 values:
// forward |a-b| <= 1e-5 + 1e-4|b| (the second step: 5e-5 + 1e-4|b|); gradients within 1e-4 of the
// tensor's max |g|.
import Foundation
import Kernels
import TestHelpers
import XCTest
@testable import HRM

final class TRMGoldenTests: XCTestCase {
    override func setUp() { KernelThreads.configure(threads: 2) }

    static func config(from fixture: SafeTensorsFile) -> HRMConfig {
        let c = fixture.configJSON
        func int(_ key: String) -> Int { (c[key] as? NSNumber)?.intValue ?? -1 }
        func double(_ key: String) -> Double { (c[key] as? NSNumber)?.doubleValue ?? .nan }
        return HRMConfig.trm(
            hiddenSize: int("hidden_size"), numHeads: int("num_heads"), expansion: double("expansion"), lLayers: int("L_layers"),
            hCycles: int("H_cycles"), lCycles: int("L_cycles"), haltMaxSteps: int("halt_max_steps"),
            puzzleEmbeddingDim: int("puzzle_emb_ndim"), puzzleEmbeddingLength: int("puzzle_emb_len"),
            numPuzzleIdentifiers: int("num_puzzle_identifiers") - 1, vocabSize: int("vocab_size"), seqLen: int("seq_len"),
            ropeTheta: double("rope_theta"), rmsNormEpsilon: double("rms_norm_eps"),
            noACTContinue: (c["no_ACT_continue"] as? NSNumber)?.boolValue ?? false)
    }

    func testTinyTRMMatchesReference() throws { try checkTinyTRM(flash: false) }
    /// Through the flash attention kernel (the fixture's short sequence runs the blocked one by default).
    func testTinyTRMMatchesReferenceWithFlashAttention() throws { try checkTinyTRM(flash: true) }

    func checkTinyTRM(flash: Bool) throws {
        let name = "trm_tiny.safetensors"
        let fixture = try Fixtures.load(name)
        let c = fixture.configJSON
        let config = Self.config(from: fixture)
        XCTAssertNoThrow(try config.validate())
        XCTAssertEqual(config.intermediateSize, (c["intermediate_size"] as? NSNumber)?.intValue)
        XCTAssertEqual(config.puzzleTokens, (c["puzzle_tokens"] as? NSNumber)?.intValue)
        XCTAssertEqual(config.totalLength, (c["total_len"] as? NSNumber)?.intValue)
        let batch = try XCTUnwrap((c["batch_size"] as? NSNumber)?.intValue, "the fixture names its batch size")
        let tokens = config.seqLen, rows = config.totalLength, d = config.hiddenSize, vocab = config.vocabSize

        let model = TRMModel<Float>(config: config, maxBatch: batch)
        model.alwaysFlashAttention = flash
        // Shapes first: every arena tensor and gradient has the fixture's shape, the names are the same set.
        for entry in model.parameters.layout.entries {
            XCTAssertEqual(fixture.shape(entry.name), entry.shape, "\(name): shape of \(entry.name)")
            if entry.trainable { XCTAssertEqual(fixture.shape("grad." + entry.name), entry.shape, "\(name): shape of grad.\(entry.name)") }
        }
        let tableShape = [config.numPuzzleIdentifiers + 1, config.puzzleEmbeddingDim]
        XCTAssertEqual(fixture.shape(ParameterLayout.puzzleEmbeddingName), tableShape)
        XCTAssertEqual(fixture.shape("grad." + ParameterLayout.puzzleEmbeddingName), tableShape)
        let fixtureWeights = Set(fixture.tensors.keys.filter { $0.hasPrefix(ParameterLayout.prefix) })
        XCTAssertEqual(fixtureWeights, Set(model.parameters.layout.entries.map(\.name) + [ParameterLayout.puzzleEmbeddingName]))
        XCTAssertEqual(Set((c["trainable"] as? [String]) ?? []),
                       Set(model.parameters.layout.trainableEntries.map(\.name) + [ParameterLayout.puzzleEmbeddingName]))
        XCTAssertEqual(fixture.shape("batch.inputs"), [batch, tokens])
        XCTAssertEqual(fixture.shape("carry.z_H"), [batch, rows, d])
        XCTAssertEqual(fixture.shape("out.logits"), [batch, tokens, vocab])
        XCTAssertEqual(fixture.shape("out.z_L"), [batch, rows, d])
        XCTAssertEqual(fixture.shape("loss.logit_weights"), [batch, tokens, vocab])
        XCTAssertEqual(fixture.shape("loss.q_weights"), [batch, 2])

        try model.load(from: fixture, source: name)
        let inputs = try fixture.ints("batch.inputs")
        let identifiers = try fixture.ints("batch.puzzle_identifiers")

        // The carry in: slot 0 is the reset state, slot 1 random.
        let carry = ReasoningCarry<Float>(config: config, batch: batch)
        carry.resetAll(model: model)
        let slot = rows * d
        let fixtureZH = try fixture.floats("carry.z_H"), fixtureZL = try fixture.floats("carry.z_L")
        assertClose("\(name) carry.z_H slot 0 = H_init", Array(carry.zH.array.prefix(slot)), Array(fixtureZH.prefix(slot)), atol: 0, rtol: 0)
        assertClose("\(name) carry.z_L slot 0 = L_init", Array(carry.zL.array.prefix(slot)), Array(fixtureZL.prefix(slot)), atol: 0, rtol: 0)
        for i in 0..<carry.zH.count { carry.zH[i] = fixtureZH[i]; carry.zL[i] = fixtureZL[i] }

        // The cycles without gradient alone.
        let probe = ReasoningCarry<Float>(config: config, batch: batch)
        probe.copy(from: carry)
        model.noGradientCycles(carry: probe, inputs: inputs, puzzleIdentifiers: identifiers)
        assertClose("\(name) debug.input_embeddings", Array(model.inputEmbedding.array.prefix(batch * rows * d)), try fixture.floats("debug.input_embeddings"))
        assertClose("\(name) debug.z_H_nograd", probe.zH.array, try fixture.floats("debug.z_H_nograd"))
        assertClose("\(name) debug.z_L_nograd", probe.zL.array, try fixture.floats("debug.z_L_nograd"))

        // The inner step with gradient.
        model.innerStep(carry: carry, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: true)
        let logitCount = batch * tokens * vocab
        let logits = Array(model.logits.array.prefix(logitCount))
        assertClose("\(name) out.logits", logits, try fixture.floats("out.logits"))
        assertClose("\(name) out.q_halt_logits", (0..<batch).map { model.qLogits[2 * $0] }, try fixture.floats("out.q_halt_logits"))
        assertClose("\(name) out.q_continue_logits", (0..<batch).map { model.qLogits[2 * $0 + 1] }, try fixture.floats("out.q_continue_logits"))
        assertClose("\(name) out.z_H", carry.zH.array, try fixture.floats("out.z_H"))
        assertClose("\(name) out.z_L", carry.zL.array, try fixture.floats("out.z_L"))

        // The fixed linear loss: its gradients w.r.t. logits and q are its weights.
        let logitWeights = try fixture.floats("loss.logit_weights"), qWeights = try fixture.floats("loss.q_weights")
        var loss = 0.0
        for i in 0..<logitCount { loss += Double(logits[i]) * Double(logitWeights[i]) }
        for i in 0..<(2 * batch) { loss += Double(model.qLogits[i]) * Double(qWeights[i]) }
        assertClose("\(name) out.loss", [loss], try fixture.floats("out.loss"), atol: 1e-4, rtol: 1e-4)

        // A second step without gradient must leave the recorded cycle intact for backward. It ends 16
        // network applications (32 blocks) from the carry in, so float32 rounding has grown: atol 5e-5.
        model.innerStep(carry: carry, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: false)
        let secondStepTolerance = 5e-5
        assertClose("\(name) out2.logits", Array(model.logits.array.prefix(logitCount)), try fixture.floats("out2.logits"), atol: secondStepTolerance)
        assertClose("\(name) out2.q_halt_logits", (0..<batch).map { model.qLogits[2 * $0] }, try fixture.floats("out2.q_halt_logits"), atol: secondStepTolerance)
        assertClose("\(name) out2.q_continue_logits", (0..<batch).map { model.qLogits[2 * $0 + 1] }, try fixture.floats("out2.q_continue_logits"), atol: secondStepTolerance)
        assertClose("\(name) out2.z_H", carry.zH.array, try fixture.floats("out2.z_H"), atol: secondStepTolerance)
        assertClose("\(name) out2.z_L", carry.zL.array, try fixture.floats("out2.z_L"), atol: secondStepTolerance)

        model.zeroGradients()
        logitWeights.withUnsafeBufferPointer { dl in qWeights.withUnsafeBufferPointer { dq in
            model.backward(dlogits: dl.baseAddress!, dq: dq.baseAddress!, batch: batch)
        } }
        for entry in model.parameters.layout.trainableEntries {
            let actual = Array(UnsafeBufferPointer(start: model.gradients.pointer + entry.offset, count: entry.count))
            assertGradientClose("\(name) grad.\(entry.name)", actual, try fixture.floats("grad." + entry.name))
        }
        assertGradientClose("\(name) grad.\(ParameterLayout.puzzleEmbeddingName)", model.puzzleTableGradient(batch: batch).array,
                            try fixture.floats("grad." + ParameterLayout.puzzleEmbeddingName))
        XCTAssertEqual(model.lastPuzzleIdentifiers, identifiers)
    }

    /// A file missing a tensor, or with a wrong shape, is refused by name and leaves the weights alone.
    func testLoadRefusesMissingOrMisshapenTensors() throws {
        let fixture = try Fixtures.load("trm_tiny.safetensors")
        let config = Self.config(from: fixture)
        let model = TRMModel<Float>(config: config, maxBatch: 1)
        let name = ParameterLayout.prefix + "L_level.layers.1.mlp.down_proj.weight"
        var missing = fixture
        missing.tensors[name] = nil
        XCTAssertThrowsError(try model.load(from: missing, source: "missing.safetensors")) { error in
            XCTAssertTrue("\(error)".contains("missing.safetensors") && "\(error)".contains(name), "\(error)")
        }
        var misshapen = fixture
        misshapen.tensors[name] = SafeTensor(name: name, shape: [1, 2], floats: [0, 0])
        XCTAssertThrowsError(try model.load(from: misshapen, source: "shape.safetensors")) { error in
            XCTAssertTrue("\(error)".contains(name) && "\(error)".contains("[1, 2]"), "\(error)")
        }
        XCTAssertTrue(model.parameters.values.array.allSatisfy { $0 == 0 }, "a refused load wrote weights")
    }
}
