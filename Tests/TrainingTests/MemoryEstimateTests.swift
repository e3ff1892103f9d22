// The memory estimate the commands check a configuration against (HRM/MemoryEstimate.swift) is an
// upper bound of what the tensors really hold (AllocationLedger's peak) through a training step and an
// inference step, and not so loose that it refuses what fits (within 3x); a configuration above the
// machine's memory is refused with one message naming the batch size and the options to lower.
import Foundation
import HRM
import Kernels
import Training
import XCTest

final class MemoryEstimateTests: XCTestCase {
    private func config(dim: Int, heads: Int, layers: Int, seq: Int) -> HRMConfig {
        var c = HRMConfig(hiddenSize: dim, numHeads: heads, expansion: 4, hLayers: layers, lLayers: layers, hCycles: 2, lCycles: 2, haltMaxSteps: 4)
        c.seqLen = seq
        c.numPuzzleIdentifiers = 40
        return c
    }

    private func data(seq: Int, examples: Int) -> ArrayExampleSource {
        var rng = SplitMix64(seed: 9)
        let inputs = (0..<(examples * seq)).map { _ in Int32(2 + rng.next() % 10) }
        return ArrayExampleSource(sequenceLength: seq, inputs: inputs, labels: inputs, puzzleOffsets: Array(0...examples),
                                  groupOffsets: Array(0...examples), identifiers: (1...examples).map { Int32($0) })
    }

    /// The ledger's peak above what was held before `body`, in bytes.
    private func peak(_ body: () throws -> Void) rethrows -> Double {
        let before = AllocationLedger.liveBytes
        AllocationLedger.resetPeak()
        try body()
        return Double(AllocationLedger.peakBytes - before)
    }

    func testTheEstimateBoundsATrainingStepAndAnInferenceStep() throws {
        KernelThreads.configure(threads: 2)
        defer { KernelThreads.configure(threads: 0) }
        for (dim, heads, layers, seq, batch) in [(64, 2, 1, 144, 8), (128, 4, 2, 400, 4), (32, 2, 1, 900, 2)] {
            let c = config(dim: dim, heads: heads, layers: layers, seq: seq)
            let shape = "D \(dim), \(layers)+\(layers) layers, seq \(seq), batch \(batch)"
            var options = TrainerOptions.preset(named: "cpu")!
            options.batchSize = batch
            options.seed = 3
            let trained = try peak {
                let model = HRMModel<Float>(config: c, maxBatch: batch)
                model.parameters.initialize(seed: 1)
                let trainer = try ACTTrainer(model: model, data: data(seq: seq, examples: 2 * batch), options: options)
                _ = try trainer.trainStep()
                _ = try trainer.trainStep()
                _ = trainer.snapshot()
            }
            // AdamATan2's moments are Swift arrays, outside the ledger: two values per parameter.
            let moments = 2 * 4 * Double(ParameterLayout(config: c).totalCount)
            let trainingEstimate = MemoryEstimate.bytes(config: c, batchSize: batch, training: true, workers: KernelThreads.parts)
            XCTAssertGreaterThanOrEqual(trainingEstimate, trained + moments, "training, \(shape)")
            XCTAssertLessThanOrEqual(trainingEstimate, 3 * (trained + moments), "training, \(shape): not so loose it refuses what fits")

            let inferred = peak {
                let model = HRMModel<Float>(config: c, maxBatch: batch)
                model.parameters.initialize(seed: 1)
                let carry = HRMCarry<Float>(config: c, batch: batch)
                carry.resetAll(model: model)
                let inputs = [Int32](repeating: 3, count: batch * seq)
                model.innerStep(carry: carry, inputs: inputs, puzzleIdentifiers: [Int32](repeating: 1, count: batch), withGradient: false)
            }
            let inferenceEstimate = MemoryEstimate.bytes(config: c, batchSize: batch, training: false, workers: KernelThreads.parts)
            XCTAssertGreaterThanOrEqual(inferenceEstimate, inferred, "inference, \(shape)")
            XCTAssertLessThanOrEqual(inferenceEstimate, 3 * inferred, "inference, \(shape)")
            XCTAssertLessThan(inferenceEstimate, trainingEstimate)
        }
    }

    func testAConfigurationAboveTheMachinesMemoryIsRefusedNamingWhatToLower() throws {
        var paper = config(dim: 512, heads: 8, layers: 4, seq: 900)
        paper.numPuzzleIdentifiers = 1000
        let needed = MemoryEstimate.bytes(config: paper, batchSize: 768, training: true)
        XCTAssertGreaterThan(needed, 24e9, "the paper's batch of 768 does not fit a 24 GB machine")
        XCTAssertThrowsError(try MemoryEstimate.check(config: paper, batchSize: 768, training: true, what: "training at batch size 768",
                                                      available: 24e9)) { error in
            let text = "\(error)"
            for part in ["training at batch size 768", "GB of memory", "24.0 GB", "--batch-size", "--hidden-size"] {
                XCTAssertTrue(text.contains(part), "mentions \(part): \(text)")
            }
        }
        // What fits passes, and so does everything when the machine's memory is unknown.
        XCTAssertNoThrow(try MemoryEstimate.check(config: paper, batchSize: 8, training: true, what: "training", available: 24e9))
        XCTAssertNoThrow(try MemoryEstimate.check(config: paper, batchSize: 768, training: true, what: "training", available: nil))
        XCTAssertGreaterThan(MemoryEstimate.physicalBytes ?? 0, 1e8, "this machine's memory is read")
        // ARC_MEMORY_BYTES states a smaller budget; a value that is not a positive number is left out.
        let machine = try XCTUnwrap(MemoryEstimate.physicalBytes)
        defer { unsetenv("ARC_MEMORY_BYTES") }
        setenv("ARC_MEMORY_BYTES", "5e8", 1)
        XCTAssertEqual(MemoryEstimate.physicalBytes, min(machine, 5e8))
        for ignored in ["abc", "-1", "0", "inf", "nan", ""] {
            setenv("ARC_MEMORY_BYTES", ignored, 1)
            XCTAssertEqual(MemoryEstimate.physicalBytes, machine, "ARC_MEMORY_BYTES=\(ignored)")
        }
        // The largest configuration the options allow is counted without overflow.
        let largest = config(dim: HRMConfig.maximumHiddenSize, heads: 128, layers: 2, seq: 900)
        let bytes = MemoryEstimate.bytes(config: largest, batchSize: 4096, training: true, workers: 256)
        XCTAssertTrue(bytes.isFinite && bytes > 1e12, "\(bytes)")
    }
}
