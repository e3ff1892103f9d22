// How long `evaluate` will take on a dataset's test split, measured before training so that
// `train-eval --time-budget` can reserve it: for each canvas set, the number of batches times
// halt_max_steps inner steps (evaluation always runs every ACT step, docs/SPEC.md §5), each timed
// here on a model of the same shape (the time of a step does not depend on the weights; the fastest
// of three timed steps after a warm-up).
import ARCAugment
import Foundation
import HRM
import Kernels
import Training

enum PredictionEstimate {
    /// Seconds of model time to predict every example of `split` with batches of `batchSize`.
    static func seconds(config: HRMConfig, split: BuiltSplit, batchSize: Int, threads: Int) throws -> Double {
        KernelThreads.configure(threads: threads)
        let subsets = split.orderedSubsets
        let total = subsets.reduce(0) { $0 + $1.exampleCount }
        guard total > 0 else { return 0 }
        let batch = max(1, min(batchSize, total))
        try MemoryEstimate.check(config: config, batchSize: batch, training: false, what: "evaluating at batch size \(batch)",
                                 remedy: "lower --eval-batch-size")
        let model = ReasoningModel<Float>.make(config: config, maxBatch: batch)
        model.parameters.initialize(seed: 0)
        let identifiers = [Int32](repeating: 0, count: batch)
        var seconds = 0.0
        for subset in subsets where subset.exampleCount > 0 {
            let carry = try model.makeCarry(batchSize: batch, side: subset.side)
            // PAD everywhere but a colour cell per example: a step costs the same whatever the tokens.
            let inputs = [Int32](repeating: 0, count: batch * carry.tokensPerExample).enumerated().map { $0.offset % 7 == 0 ? 2 : $0.element }
            model.innerStep(carry: carry, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: false)  // warm-up
            // The fastest of 3 timed steps: a disturbance (another process, a page fault) only adds time,
            // and a mean of two once reserved twice the evaluation's real time on 2 threads.
            var perStep = Double.infinity
            for _ in 0..<3 {
                let start = DispatchTime.now().uptimeNanoseconds
                model.innerStep(carry: carry, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: false)
                perStep = min(perStep, Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9)
            }
            let batches = (subset.exampleCount + batch - 1) / batch
            seconds += Double(batches * config.haltMaxSteps) * perStep
        }
        return seconds
    }
}
