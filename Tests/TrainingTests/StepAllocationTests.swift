// After warm-up, a training step and a prediction batch allocate nothing on the heap. The
// test-only AllocationCounter target replaces malloc and friends (forwarding to glibc) and counts
// every call in the process, on any thread and in any library, while it is switched on; the count
// covers whole steps: sampling, the carries of two canvas buckets (two board sides), the inner
// steps, losses, backward and optimizers. Single-threaded, every kernel runs its loop inline and
// the count must be zero. With worker threads, DispatchQueue.concurrentPerform itself allocates on
// each call (its Swift overlay's closure object, _Block_copy, libdispatch's continuations: about 4
// per call on Linux, which the project cannot avoid while it uses Dispatch); those are counted
// apart, by the allocation's nearest caller, and everything else must be zero. The same goes for
// the oneDNN matmul library when it runs the products (OneDNN.swift): dnnl_sgemm allocates its
// packing buffers on each call; those are counted apart and printed.
// Run with ALLOCATION_BACKTRACES=1 to print the call stack of each allocation that is not Dispatch's.
import AllocationCounter
import Foundation
import HRM
import Kernels
@testable import Training
import XCTest

final class StepAllocationTests: XCTestCase {
    /// Heap allocations made while `body` runs, on every thread: (those of Dispatch's own code when
    /// `separatingDispatch`, those of the oneDNN matmul library, all others).
    func allocations(separatingDispatch: Bool = false, _ body: () throws -> Void) rethrows -> (dispatch: Int, matmul: Int, others: Int) {
        var options: Int32 = ALLOCATION_COUNTER_SEPARATE_MATMUL | (separatingDispatch ? ALLOCATION_COUNTER_SEPARATE_DISPATCH : 0)
        if ProcessInfo.processInfo.environment["ALLOCATION_BACKTRACES"] == "1" { options |= ALLOCATION_COUNTER_BACKTRACES }
        allocation_counter_start(options)
        defer { _ = allocation_counter_stop() }
        try body()
        let others = allocation_counter_stop()
        return (allocation_counter_dispatch_count(), allocation_counter_matmul_count(), others)
    }

    /// oneDNN's own allocations are only possible when it runs the products.
    func checkMatmulAllocations(_ counted: (dispatch: Int, matmul: Int, others: Int), _ what: String) {
        if let library = BLASBackend.oneDNN {
            print("StepAllocationTests: \(what): \(library.name)'s own allocations (its packing buffers) \(counted.matmul)")
        } else {
            XCTAssertEqual(counted.matmul, 0, "allocations attributed to oneDNN while OpenBLAS runs the products")
        }
    }

    /// A model on a W x W position canvas, trained on two buckets of sides `small` and W.
    /// `trm`: TRM's step (its whole last cycle recorded) with the weight EMA.
    func trainer(hiddenSize: Int, width: Int, small: Int, batch: Int, trm: Bool = false) throws -> ACTTrainer {
        var config = trm ? TRMResumeTests.tinyTRM() : ResumeTests.tinyConfig()
        config.hiddenSize = hiddenSize
        config.puzzleEmbeddingDim = hiddenSize
        config.seqLen = width * width
        let model = ReasoningModel<Float>.make(config: config, maxBatch: batch)
        model.parameters.initialize(seed: 3)
        var options = ResumeTests.options()  // halt_max_steps 3 with exploration: resets, probes and halts all happen
        options.batchSize = batch
        if trm { options.emaRate = 0.9 }
        let buckets: [ExampleSource] = [
            BucketTrainingTests.source(puzzles: 4, size: 3, firstIdentifier: 1, seed: 1, side: small),
            BucketTrainingTests.source(puzzles: 2, size: 2, firstIdentifier: 5, seed: 2, side: width),
        ]
        return try ACTTrainer(model: model, buckets: buckets, options: options)
    }

    func skipUnlessCounting() throws {
        // The project builds and tests on Linux (glibc); a counter that cannot count is a failure, not a skip.
        struct CounterUnavailable: Error {}
        guard allocation_counter_supported() == 1 else {
            XCTFail("the allocation counter replaces glibc's allocator and is unavailable on this platform")
            throw CounterUnavailable()
        }
        // The counter sees allocations: one array made in the window counts.
        let seen = allocations { blackHole([Int](repeating: 1, count: 1000)) }
        XCTAssertGreaterThanOrEqual(seen.others, 1, "the allocation counter did not see an array allocation")
    }

    /// Training steps after warm-up: no allocation; `threads` worker threads.
    func assertStepsAllocateNothing(threads: Int, hiddenSize: Int, width: Int, batch: Int, trm: Bool = false) throws {
        let previous = KernelThreads.count
        KernelThreads.configure(threads: threads)
        defer { KernelThreads.count = previous }
        let trainer = try trainer(hiddenSize: hiddenSize, width: width, small: width - 2, batch: batch, trm: trm)
        for _ in 0..<10 { try trainer.trainStep() }  // warm-up: lazy buffers, both geometries, a sampler pass
        let drawsBefore = trainer.buckets.map(\.draws)
        let steps = 16
        var losses = 0.0
        let counted = try allocations(separatingDispatch: threads > 1) {
            for _ in 0..<steps { losses += try trainer.trainStep().totalLoss }
        }
        XCTAssertTrue(losses.isFinite)
        XCTAssertEqual(trainer.step, 10 + steps)
        XCTAssertTrue(zip(trainer.buckets.map(\.draws), drawsBefore).allSatisfy { $0 > $1 }, "both buckets (both carries) stepped in the window")
        XCTAssertEqual(counted.others, 0, "\(counted.others) heap allocations in \(steps) training steps (\(threads) thread(s)); ALLOCATION_BACKTRACES=1 shows where")
        checkMatmulAllocations(counted, "\(steps) training steps, \(threads) thread(s)")
        if threads > 1 {
            XCTAssertGreaterThan(counted.dispatch, 0, "no work ran on Dispatch's worker threads: the model is too small for this test")
            print("StepAllocationTests: \(threads) threads: Dispatch's own allocations \(Double(counted.dispatch) / Double(steps)) per step, others 0")
        }
    }

    func testTrainingStepsAllocateNothingSingleThreaded() throws {
        try skipUnlessCounting()
        try assertStepsAllocateNothing(threads: 1, hiddenSize: 16, width: 5, batch: 4)
    }

    func testTRMTrainingStepsWithTheEMAAllocateNothingSingleThreaded() throws {
        try skipUnlessCounting()
        try assertStepsAllocateNothing(threads: 1, hiddenSize: 16, width: 5, batch: 4, trm: true)
    }

    /// Big enough that the element-wise loops, the products and attention run on worker threads.
    func testTrainingStepsAllocateNothingWithWorkerThreads() throws {
        try skipUnlessCounting()
        try assertStepsAllocateNothing(threads: 2, hiddenSize: 64, width: 10, batch: 8)
    }

    func testPredictionBatchesAllocateNothing() throws {
        try skipUnlessCounting()
        let previous = KernelThreads.count
        KernelThreads.configure(threads: 1)
        defer { KernelThreads.count = previous }
        let trainer = try trainer(hiddenSize: 16, width: 5, small: 3, batch: 4)
        let predictor = ACTPredictor(model: trainer.model, batchSize: 4, haltMaxSteps: 3)
        let sources = trainer.buckets.map(\.data)
        let carries = try sources.map { try predictor.carry(for: $0) }
        let examples = [0, 2, 1]  // a partial batch: one blank slot
        let identifierOf: (Int) -> Int32 = { Int32(1 + $0 % 4) }
        for (source, carry) in zip(sources, carries) {
            predictor.predictBatch(examples[...], from: source, carry: carry, identifierOf: identifierOf)  // warm-up
        }
        let counted = allocations {
            for _ in 0..<3 {
                for (source, carry) in zip(sources, carries) {
                    predictor.predictBatch(examples[...], from: source, carry: carry, identifierOf: identifierOf)
                }
            }
        }
        XCTAssertEqual(counted.others, 0, "\(counted.others) heap allocations in 6 prediction batches; ALLOCATION_BACKTRACES=1 shows where")
        checkMatmulAllocations(counted, "6 prediction batches")
        // The batch's tokens are the ones predict returns.
        let predicted = try predictor.predict(examples, from: sources[1], identifierOf: identifierOf)
        XCTAssertEqual(predicted.map(\.example), examples)
        XCTAssertEqual(predicted.last?.tokens, Array(predictor.tokens[(2 * 25)..<(3 * 25)]))
    }
}

/// Keeps a value alive past the optimizer.
@inline(never)
func blackHole<T>(_ value: T) {
    withExtendedLifetime(value) {}
}
