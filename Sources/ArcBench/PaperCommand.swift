// `arc-bench paper`: paper-size inference at batch 1 for 16 ACT steps (seconds per example,
// GFLOP/s, peak RSS). Run it in its own process to see its own peak RSS.
import ArgumentParser
import Foundation
import HRM
import Kernels

struct PaperCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "paper",
        abstract: "Paper-size inference at batch 1 for 16 ACT steps (run it in its own process to see its own peak RSS).")

    @OptionGroup var options: CommonOptions

    func run() {
        options.start()
        benchPaper(options: options)
    }
}

func benchPaper(options: CommonOptions) {
    var config = HRMConfig.paper
    config.numPuzzleIdentifiers = 1000
    print("== paper-size inference: D \(config.hiddenSize), heads \(config.numHeads), H/L layers \(config.hLayers)/\(config.lLayers), cycles \(config.hCycles)/\(config.lCycles), batch 1, \(config.haltMaxSteps) ACT steps, puzzle table \(config.numPuzzleIdentifiers + 1) rows, threads \(KernelThreads.count)")
    let model = ReasoningModel<Float>.make(config: config, maxBatch: 1)
    model.parameters.initialize(seed: options.seed)
    let data = randomBatch(config: config, batch: 1, seed: options.seed)
    let carry = HRMCarry<Float>(config: config, batch: 1)
    let flops = StepFLOPs(config: config, batch: 1)
    var best = Double.infinity
    for _ in 0..<max(1, options.repeats - 1) {
        carry.resetAll(model: model)
        let start = now()
        for _ in 0..<config.haltMaxSteps {
            model.innerStep(carry: carry, inputs: data.inputs, puzzleIdentifiers: data.identifiers, withGradient: false)
        }
        best = min(best, now() - start)
    }
    print("  \(format(best, 2)) s per example (16 steps), \(format(flops.forward * 16 / best / 1e9, 1)) GFLOP/s; parameters \(model.parameters.layout.parameterCount)")
    print("  peak RSS (VmHWM): \(format(peakRSSMegabytes(), 1)) MB")
}
