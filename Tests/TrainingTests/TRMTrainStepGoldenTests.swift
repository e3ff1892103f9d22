// TRM's full ACT training step with the weight EMA (docs/SPEC.md §5, §6, §9) against the PyTorch
// reference's fixture trm_train_steps (Tests/Fixtures/README.md; Tools/reference/make_trm_step_fixtures.py):
// two consecutive steps from a fresh carry, no_ACT_continue (halt on q_halt > 0, no Q-continue target
// or loss), exploration 0, warm-up schedule, AdamATan2, sparse sign-SGD and the EMA with mu 0.9.
// Shapes first; then per step the losses (|a-b| <= 1e-5 + 1e-4|b|; the q_continue loss exactly 0),
// the rate, the halted flags and steps exactly, the metrics, the parameters and the EMA weights:
// within 1e-6, apart from at most 0.5% of a tensor (at least one element) within the sum of
// lr_k * pi/2 over the steps so far + 1e-6 (the fixture README's caveat: Adam's first step moves by
// lr*pi/4*sign(g), so a tiny gradient whose float32 sign differs moves the other way).
import Foundation
import HRM
import Kernels
import TestHelpers
import Training
import XCTest

final class TRMTrainStepGoldenTests: XCTestCase {
    let fixtureName = "trm_train_steps.safetensors"

    /// The TRM config of the fixture's metadata.
    func config(_ c: [String: Any]) throws -> HRMConfig {
        func int(_ key: String) throws -> Int { try XCTUnwrap((c[key] as? NSNumber)?.intValue, "\(fixtureName): config lacks \(key)") }
        func double(_ key: String) throws -> Double { try XCTUnwrap((c[key] as? NSNumber)?.doubleValue, "\(fixtureName): config lacks \(key)") }
        return HRMConfig.trm(
            hiddenSize: try int("hidden_size"), numHeads: try int("num_heads"), expansion: try double("expansion"), lLayers: try int("L_layers"),
            hCycles: try int("H_cycles"), lCycles: try int("L_cycles"), haltMaxSteps: try int("halt_max_steps"),
            puzzleEmbeddingDim: try int("puzzle_emb_ndim"), puzzleEmbeddingLength: try int("puzzle_emb_len"),
            numPuzzleIdentifiers: try int("num_puzzle_identifiers") - 1, vocabSize: try int("vocab_size"), seqLen: try int("seq_len"),
            ropeTheta: try double("rope_theta"), rmsNormEpsilon: try double("rms_norm_eps"),
            noACTContinue: try XCTUnwrap((c["no_ACT_continue"] as? NSNumber)?.boolValue, "\(fixtureName): config lacks no_ACT_continue"))
    }

    /// The trainer settings of the fixture's metadata.
    func options(_ c: [String: Any]) throws -> TrainerOptions {
        func double(_ key: String) throws -> Double { try XCTUnwrap((c[key] as? NSNumber)?.doubleValue, "\(fixtureName): config lacks \(key)") }
        var o = TrainerOptions()
        o.batchSize = Int(try double("global_batch_size"))
        o.learningRate = try double("lr")
        o.puzzleEmbeddingLearningRate = try double("puzzle_emb_lr")
        o.weightDecay = try double("weight_decay")
        o.puzzleEmbeddingWeightDecay = try double("puzzle_emb_weight_decay")
        o.beta1 = try double("beta1")
        o.beta2 = try double("beta2")
        o.warmupSteps = Int(try double("warmup_steps"))
        o.totalSteps = Int(try double("total_steps"))
        o.lrMinRatio = try double("lr_min_ratio")
        o.explorationProbability = try double("halt_exploration_prob")
        o.emaRate = try double("ema_rate")
        return o
    }

    /// Each dense trainable tensor of `values` (the arena's layout) against `prefix + name`: within
    /// 1e-6, apart from at most 0.5% of a tensor (at least 1) within `flipBudget` + 1e-6. Returns the
    /// number of tensors compared.
    @discardableResult
    func assertDense(_ what: String, _ values: [Float], layout: ParameterLayout, _ expected: SafeTensorsFile, prefix: String,
                     flipBudget: Double, file: StaticString = #filePath, line: UInt = #line) throws -> Int {
        var compared = 0
        for entry in layout.entries where entry.trainable {
            let want = try expected.floats(prefix + entry.name, file: file, line: line)
            XCTAssertEqual(want.count, entry.count, "\(what) \(entry.name): element count", file: file, line: line)
            guard want.count == entry.count else { continue }
            var largest = 0.0, differing = 0
            for i in 0..<entry.count {
                let d = abs(Double(values[entry.offset + i]) - Double(want[i]))
                if !(d <= 1e-6) {
                    differing += 1
                    XCTAssertLessThanOrEqual(d, flipBudget + 1e-6, "\(what) \(entry.name)[\(i)]", file: file, line: line)
                }
                if !(d <= largest) { largest = d }
            }
            XCTAssertLessThanOrEqual(Double(differing), max(1, 0.005 * Double(entry.count)),
                                     "\(what) \(entry.name): \(differing) of \(entry.count) elements differ by more than 1e-6 (largest \(largest))", file: file, line: line)
            print("\(what) \(entry.name): largest |diff| \(largest), beyond 1e-6: \(differing)")
            compared += 1
        }
        return compared
    }

    func testTwoTRMTrainingStepsWithEMAMatchReference() throws {
        let fixture = try Fixtures.load(fixtureName)
        let c = fixture.configJSON
        let config = try config(c)
        XCTAssertNoThrow(try config.validate())
        XCTAssertTrue(config.noACTContinue, "\(fixtureName): the fixture is made with no_ACT_continue")
        let options = try options(c)
        XCTAssertEqual(options.explorationProbability, 0)
        XCTAssertEqual(options.emaRate, 0.9)
        let batch = options.batchSize, tokens = config.seqLen
        XCTAssertEqual(config.intermediateSize, (c["intermediate_size"] as? NSNumber)?.intValue)
        XCTAssertEqual(config.puzzleTokens, (c["puzzle_tokens"] as? NSNumber)?.intValue)
        XCTAssertEqual(config.totalLength, (c["total_len"] as? NSNumber)?.intValue)

        let model = ReasoningModel<Float>.make(config: config, maxBatch: batch)
        XCTAssertTrue(model is TRMModel<Float>)
        let layout = model.parameters.layout
        let tableName = ParameterLayout.puzzleEmbeddingName
        let tableShape = [config.numPuzzleIdentifiers + 1, config.puzzleEmbeddingDim]

        // Shapes first: the weights, every per-step parameter and EMA tensor, the batches and the ACT state.
        let fixtureWeights = Set(fixture.tensors.keys.filter { $0.hasPrefix(ParameterLayout.prefix) })
        XCTAssertEqual(fixtureWeights, Set(layout.entries.map(\.name) + [tableName]), "\(fixtureName): the weights are the model's")
        XCTAssertEqual(Set((c["ema_tensors"] as? [String]) ?? []), Set(layout.trainableEntries.map(\.name)), "the EMA covers the dense trainable tensors")
        for entry in layout.entries { XCTAssertEqual(fixture.shape(entry.name), entry.shape, "shape of \(entry.name)") }
        XCTAssertEqual(fixture.shape(tableName), tableShape)
        let steps = ["step1", "step2"]
        for step in steps {
            for entry in layout.trainableEntries {
                XCTAssertEqual(fixture.shape("\(step).after.\(entry.name)"), entry.shape, "shape of \(step).after.\(entry.name)")
                XCTAssertEqual(fixture.shape("\(step).ema.\(entry.name)"), entry.shape, "shape of \(step).ema.\(entry.name)")
            }
            XCTAssertEqual(fixture.shape("\(step).after.\(tableName)"), tableShape)
            XCTAssertNil(fixture.shape("\(step).ema.\(tableName)"), "the puzzle table has no EMA")
            for key in ["act.halted", "act.steps", "act.q_halt_logits", "current.puzzle_identifiers"] {
                XCTAssertEqual(fixture.shape("\(step).\(key)"), [batch], "shape of \(step).\(key)")
            }
            XCTAssertEqual(fixture.shape("\(step).current.inputs"), [batch, tokens])
        }
        for name in ["batch1", "batch2"] {
            XCTAssertEqual(fixture.shape("\(name).inputs"), [batch, tokens])
            XCTAssertEqual(fixture.shape("\(name).labels"), [batch, tokens])
            XCTAssertEqual(fixture.shape("\(name).puzzle_identifiers"), [batch])
        }

        try model.load(from: fixture, source: fixtureName)
        // The trainer's data source is unused (explicit batches) but must have the model's sequence length.
        let source = ArrayExampleSource(sequenceLength: tokens, inputs: [Int32](repeating: 0, count: batch * tokens),
                                        labels: [Int32](repeating: 0, count: batch * tokens), puzzleOffsets: [0, batch], groupOffsets: [0, 1], identifiers: [1])
        let trainer = try ACTTrainer(model: model, data: source, options: options)
        let dense = model.denseParameterCount
        func denseValues() -> [Float] { Array(UnsafeBufferPointer(start: model.parameters.values.pointer, count: dense)) }

        var flipBudget = 0.0
        for (index, step) in steps.enumerated() {
            func scalar(_ key: String) throws -> Double { Double(try fixture.floats("\(step).\(key)")[0]) }
            // Labels 0 (PAD) are ignored: the trainer's ignore label.
            let labels = try fixture.ints("batch\(index + 1).labels").map { $0 == 0 ? ACTTrainer.ignoreLabel : $0 }
            let metrics = try trainer.trainStep(inputs: try fixture.ints("batch\(index + 1).inputs"), labels: labels,
                                                identifiers: try fixture.ints("batch\(index + 1).puzzle_identifiers"))

            // The ACT state: which slots hold which example, their steps and halted flags (exactly).
            let state = trainer.snapshot().buckets[0]
            XCTAssertEqual(state.currentInputs, try fixture.ints("\(step).current.inputs"), "\(step): the slots' examples")
            XCTAssertEqual(state.currentIdentifiers, try fixture.ints("\(step).current.puzzle_identifiers"), "\(step): the slots' identifiers")
            XCTAssertEqual(state.slotSteps, try fixture.ints("\(step).act.steps"), "\(step): steps")
            XCTAssertEqual(state.halted, try fixture.ints("\(step).act.halted").map { $0 != 0 }, "\(step): halted")
            XCTAssertEqual(metrics.step, index + 1)

            // Losses: no Q-continue loss at all under no_ACT_continue.
            XCTAssertEqual(metrics.qContinueLoss, 0, "\(step): a q_continue loss was computed")
            XCTAssertEqual(try scalar("loss.q_continue_loss"), 0)
            for (name, value) in [("lm_loss", metrics.lmLoss), ("q_halt_loss", metrics.qHaltLoss), ("total", metrics.totalLoss)] {
                let want = try scalar("loss.\(name)")
                XCTAssertEqual(value, want, accuracy: 1e-5 + 1e-4 * abs(want), "\(step): loss.\(name)")
            }
            print("\(step) losses: lm \(metrics.lmLoss) q_halt \(metrics.qHaltLoss) total \(metrics.totalLoss); halted \(state.halted)")
            let lr = try scalar("lr")
            XCTAssertEqual(metrics.learningRate, lr, accuracy: 1e-7 * lr, "\(step): the scheduled rate")
            XCTAssertEqual(Double(metrics.count), try scalar("metrics.count"), "\(step): metrics.count")
            XCTAssertEqual(metrics.accuracySum, try scalar("metrics.accuracy"), accuracy: 1e-6, "\(step): metrics.accuracy")
            XCTAssertEqual(Double(metrics.exactSum), try scalar("metrics.exact_accuracy"), "\(step): metrics.exact_accuracy")
            XCTAssertEqual(Double(metrics.qHaltCorrectSum), try scalar("metrics.q_halt_accuracy"), "\(step): metrics.q_halt_accuracy")
            XCTAssertEqual(Double(metrics.stepsSum), try scalar("metrics.steps"), "\(step): metrics.steps")

            // Parameters after the step (AdamATan2, and sparse sign-SGD on the puzzle table).
            flipBudget += lr * Double.pi / 2
            let compared = try assertDense("\(step).after", denseValues(), layout: layout, fixture, prefix: "\(step).after.", flipBudget: flipBudget)
            XCTAssertEqual(compared, layout.trainableEntries.count)
            let table = try fixture.floats("\(step).after.\(tableName)")
            let gotTable = model.parameters.puzzleEmbedding.array
            XCTAssertEqual(gotTable.count, table.count)
            var largest = 0.0
            for i in 0..<min(gotTable.count, table.count) where !(abs(Double(gotTable[i]) - Double(table[i])) <= largest) {
                largest = abs(Double(gotTable[i]) - Double(table[i]))
            }
            print("\(step).after \(tableName): largest |diff| \(largest)")
            XCTAssertLessThanOrEqual(largest, 1e-6, "\(step): the puzzle table after sparse sign-SGD")

            // The EMA: what withAveragedWeights puts in the model; the training weights come back after it.
            let training = denseValues(), trainingTable = model.parameters.puzzleEmbedding.array
            let averaged = trainer.withAveragedWeights { (denseValues(), model.parameters.puzzleEmbedding.array) }
            try assertDense("\(step).ema", averaged.0, layout: layout, fixture, prefix: "\(step).ema.", flipBudget: flipBudget)
            XCTAssertEqual(averaged.1, trainingTable, "\(step): the puzzle table is not averaged")
            XCTAssertEqual(denseValues(), training, "\(step): withAveragedWeights restores the training weights")
        }
    }
}
