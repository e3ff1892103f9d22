// `arc-bench step`: the sgemm peak, then the inner step at the cpu-bench config (or --preset cpu /
// paper; HRM, or TRM's with --arch trm), forward and forward + backward (HRM's 1 step, TRM's last cycle), with the activation
// memory the backward keeps: tokens/s, achieved GFLOP/s from the analytic FLOP count (StepFLOPs),
// share of the sgemm peak, a per-kernel time table and peak RSS. --side S runs the step on a
// size-bucketed carry (the top-left S x S of the 30x30 canvas).
import ArgumentParser
import Foundation
import HRM
import Kernels

struct StepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "step",
        abstract: "The sgemm peak, then the HRM (or TRM: --arch trm) inner step at the cpu-bench config or --preset (forward; forward + backward).")

    @OptionGroup var options: CommonOptions
    @OptionGroup var shape: StepShapeOptions

    func run() throws {
        options.start()
        let peak = benchSgemm(repeats: options.repeats)
        try benchStep(options: options, shape: shape, peak: peak)
    }
}

func benchStep(options: CommonOptions, shape: StepShapeOptions, peak: Double) throws {
    var config = shape.preset.config(for: shape.arch)
    config.numPuzzleIdentifiers = 64
    // The preset's trainer batch (TrainerOptions.preset): cpu 16; cpu-bench 8; paper 8 here (768 on GPUs).
    let batch = shape.batch ?? (shape.preset == .cpu ? 16 : 8)
    let side = shape.side
    let tokensPerExample = side.map { $0 * $0 } ?? config.seqLen
    let sideText = side.map { ", side \($0) (\($0)x\($0) crop of the 30x30 canvas)" } ?? ""
    let layers = config.architecture == .trm ? "TRM, layers \(config.lLayers)" : "H/L layers \(config.hLayers)/\(config.lLayers)"
    print("== inner step, preset \(shape.preset): D \(config.hiddenSize), heads \(config.numHeads), \(layers), cycles \(config.hCycles)/\(config.lCycles), inter \(config.intermediateSize), batch \(batch), seq \(tokensPerExample)+\(config.puzzleTokens)\(sideText), threads \(KernelThreads.count)")
    let model = ReasoningModel<Float>.make(config: config, maxBatch: batch)
    model.parameters.initialize(seed: options.seed)
    // Non-trivial q_head so the backward is representative.
    let q = model.parameters.layout[ParameterLayout.prefix + "q_head.weight"]
    var generator = SplitMix64(seed: options.seed &+ 1)
    for i in 0..<q.count { model.parameters.values[q.offset + i] = Float(generator.nextNormal() * 0.02) }
    let full = randomBatch(config: config, batch: batch, seed: options.seed)
    // The benchmark's tokens per example: the first tokensPerExample of each random example.
    let data = (inputs: (0..<batch).flatMap { b in full.inputs[(b * config.seqLen)..<(b * config.seqLen + tokensPerExample)] },
                labels: (0..<batch).flatMap { b in full.labels[(b * config.seqLen)..<(b * config.seqLen + tokensPerExample)] },
                identifiers: full.identifiers)
    // StepShapeOptions.validate() checked the side; this only guards other callers.
    try HRMCarry<Float>.validateSide(side, config: config)
    let carry = HRMCarry<Float>(config: config, batch: batch, side: side)
    carry.resetAll(model: model)
    let flops = StepFLOPs(config: config, batch: batch, tokens: tokensPerExample)
    print("  analytic FLOPs per step: forward \(format(flops.forward / 1e9, 2)) GFLOP, backward \(format(flops.backward / 1e9, 2)) GFLOP")
    let recorded = Double(config.recordedActivationValues(batch: batch, tokens: tokensPerExample)) * 4 / 1e6
    print("  activations kept for the backward: \(config.recordedBlockApplications) block applications, \(format(recorded, 1)) MB (Float)")
    let tokens = Double(batch * tokensPerExample)

    // Forward only (inference step).
    model.innerStep(carry: carry, inputs: data.inputs, puzzleIdentifiers: data.identifiers, withGradient: false)  // warm-up
    let profiler = KernelProfiler()
    model.profiler = profiler
    var times: [Double] = []
    for _ in 0..<options.repeats {
        let start = now()
        model.innerStep(carry: carry, inputs: data.inputs, puzzleIdentifiers: data.identifiers, withGradient: false)
        times.append(now() - start)
    }
    var elapsed = times.min()!
    print("  forward:            best \(format(elapsed * 1000, 1)) ms/step (mean \(format(times.reduce(0, +) / Double(times.count) * 1000, 1))), \(format(tokens / elapsed, 0)) tokens/s, \(format(flops.forward / elapsed / 1e9, 1)) GFLOP/s = \(format(100 * flops.forward / elapsed / 1e9 / peak, 1))% of sgemm peak")
    printProfile(profiler, total: times.reduce(0, +) / Double(times.count), steps: options.repeats)

    // Forward + backward (training step without the optimizer).
    let dlogits = Tensor<Float>(shape: [batch, tokensPerExample, config.vocabSize])
    let dq = Tensor<Float>(shape: [batch, 2])
    let targets = [Double](repeating: 0, count: batch)
    func trainStep() {
        model.innerStep(carry: carry, inputs: data.inputs, puzzleIdentifiers: data.identifiers, withGradient: true)
        _ = data.labels.withUnsafeBufferPointer {
            sequenceStablemaxLoss(dlogits.pointer, model.logits.pointer, $0.baseAddress!, batch: batch, tokens: tokensPerExample, vocab: config.vocabSize, ignoreLabel: 0, gradientScale: 1 / Double(batch))
        }
        _ = targets.withUnsafeBufferPointer { binaryCrossEntropyWithLogits(dq.pointer, model.qLogits.pointer, stride: 2, $0.baseAddress!, count: batch, gradientScale: 0.5 / Double(batch)) }
        _ = targets.withUnsafeBufferPointer { binaryCrossEntropyWithLogits(dq.pointer + 1, model.qLogits.pointer + 1, stride: 2, $0.baseAddress!, count: batch, gradientScale: 0.5 / Double(batch)) }
        model.zeroGradients()
        model.backward(dlogits: dlogits.pointer, dq: dq.pointer, batch: batch)
    }
    model.profiler = nil
    trainStep()  // warm-up (allocates saved activations)
    profiler.reset()
    model.profiler = profiler
    times = []
    for _ in 0..<options.repeats {
        let start = now()
        trainStep()
        times.append(now() - start)
    }
    elapsed = times.min()!
    let total = flops.forward + flops.backward
    print("  forward+backward:   best \(format(elapsed * 1000, 1)) ms/step (mean \(format(times.reduce(0, +) / Double(times.count) * 1000, 1))), \(format(tokens / elapsed, 0)) tokens/s, \(format(total / elapsed / 1e9, 1)) GFLOP/s = \(format(100 * total / elapsed / 1e9 / peak, 1))% of sgemm peak")
    printProfile(profiler, total: times.reduce(0, +) / Double(times.count), steps: options.repeats)
    print("  peak RSS (VmHWM): \(format(peakRSSMegabytes(), 1)) MB")
}
