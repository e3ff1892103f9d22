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
    @Option(help: "Architecture: hrm (HRM's paper model, 27M parameters) or trm (TRM's, 7M).")
    var arch: ModelArchitecture = .hrm

    func run() {
        options.start()
        benchPaper(options: options, architecture: arch)
    }
}

func benchPaper(options: CommonOptions, architecture: ModelArchitecture = .hrm) {
    var config = ModelPreset.paper.config(for: architecture)
    config.numPuzzleIdentifiers = 1000
    let layers = architecture == .trm ? "TRM, layers \(config.lLayers)" : "H/L layers \(config.hLayers)/\(config.lLayers)"
    print("== paper-size inference: D \(config.hiddenSize), heads \(config.numHeads), \(layers), cycles \(config.hCycles)/\(config.lCycles), batch 1, \(config.haltMaxSteps) ACT steps, puzzle table \(config.numPuzzleIdentifiers + 1) rows, threads \(KernelThreads.count)")
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
    print("  \(format(best, 2)) s per example (\(config.haltMaxSteps) steps), \(format(flops.forward * Double(config.haltMaxSteps) / best / 1e9, 1)) GFLOP/s; parameters \(model.parameters.layout.parameterCount)")
    print("  peak RSS (VmHWM): \(format(peakRSSMegabytes(), 1)) MB")
}
