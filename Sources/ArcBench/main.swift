// arc-bench: measures the machine's sgemm peak, then the HRM inner step at the cpu-bench config
// (forward, and forward + 1-step backward): tokens/s, achieved GFLOP/s from an analytic FLOP count,
// ratio to the sgemm peak, a per-kernel time table, peak RSS; and paper-size inference at batch 1
// for 16 ACT steps (seconds per example, peak RSS). Results are recorded in BENCHMARKS.md.
//
// Usage: arc-bench [sgemm|step|paper|all|micro] [--threads N] [--repeats N] [--batch N] [--seed N] [--side S]
//        (--side S: the step on a size-bucketed carry, the top-left S x S of the 30x30 canvas; tokens/s counts S*S per example)
//        arc-bench export-check DIR  (a Swift checkpoint + its logits, checked by the PyTorch reference:
//        python3 Tools/bench/check_swift_checkpoint.py DIR)
// Run `paper` in its own process to see its own peak RSS.
import CBLAS
import Dispatch
import Foundation
import HRM
import Kernels

struct Options {
    var mode = "all"
    var threads = 0
    var repeats = 3
    var batch: Int? = nil
    var side: Int? = nil
    var seed: UInt64 = 1
    var exportDirectory = ""
}

/// One clear line and exit code 2 for a bad command line.
func fail(_ message: String) -> Never {
    FileHandle.standardError.write(Data("Error: arc-bench: \(message)\n".utf8))
    exit(2)
}

func parseOptions() -> Options {
    var options = Options()
    var arguments = Array(CommandLine.arguments.dropFirst())
    func value(_ flag: String) -> String {
        guard !arguments.isEmpty else { fail("\(flag) needs a value") }
        return arguments.removeFirst()
    }
    /// An integer option within `range`.
    func integer(_ flag: String, _ range: ClosedRange<Int>) -> Int {
        let text = value(flag)
        guard let number = Int(text), range.contains(number) else { fail("\(flag) must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(text)'") }
        return number
    }
    while !arguments.isEmpty {
        let argument = arguments.removeFirst()
        switch argument {
        case "--threads": options.threads = integer(argument, 0...256)
        case "--repeats": options.repeats = integer(argument, 1...1000)
        case "--batch": options.batch = integer(argument, 1...4096)
        case "--side": options.side = integer(argument, 1...30)
        case "--seed":
            let text = value(argument)
            guard let seed = UInt64(text) else { fail("--seed must be an integer in 0...\(UInt64.max), got '\(text)'") }
            options.seed = seed
        case "sgemm", "step", "paper", "all", "micro": options.mode = argument
        case "export-check":
            options.mode = argument
            options.exportDirectory = value(argument)
        case "-h", "--help":
            print("usage: arc-bench [sgemm|step|paper|all|micro] [--threads N] [--repeats N] [--batch N] [--seed N] [--side S (1...30)]\n       arc-bench export-check DIR   (writes swift_model.safetensors + swift_outputs.safetensors for Tools/bench/check_swift_checkpoint.py)")
            exit(0)
        default:
            fail("unknown argument \(argument) (see arc-bench --help)")
        }
    }
    return options
}

func now() -> Double { Double(DispatchTime.now().uptimeNanoseconds) * 1e-9 }

func peakRSSMegabytes() -> Double {
    guard let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8) else { return -1 }
    for line in status.split(separator: "\n") where line.hasPrefix("VmHWM:") {
        let digits = line.split(separator: " ").compactMap { Double($0) }
        if let kilobytes = digits.first { return kilobytes / 1024 }
    }
    return -1
}

func format(_ value: Double, _ digits: Int = 2) -> String { String(format: "%.\(digits)f", value) }

/// Best-of-repeats sgemm GFLOP/s for C[m,n] = A[m,k] B[k,n] (and the model's A B^T form).
func sgemmGFLOPS(m: Int, n: Int, k: Int, transposeB: Bool, repeats: Int) -> Double {
    let a = Tensor<Float>(shape: [m, k]), b = Tensor<Float>(shape: [k, n]), c = Tensor<Float>(shape: [m, n])
    var generator = SplitMix64(seed: 3)
    for i in 0..<a.count { a[i] = Float(generator.nextUnit()) }
    for i in 0..<b.count { b[i] = Float(generator.nextUnit()) }
    var best = Double.infinity
    for _ in 0..<(repeats + 1) {
        let start = now()
        parallelGemmRows(transposeB: transposeB, m: m, n: n, k: k, alpha: Float(1), a: a.pointer, lda: k,
                   b: b.pointer, ldb: transposeB ? k : n, beta: 0, c: c.pointer, ldc: n)
        best = min(best, now() - start)
    }
    return 2 * Double(m) * Double(n) * Double(k) / best / 1e9
}

/// Analytic FLOPs of one inner step: forward of all block applications + heads; backward of the
/// differentiated step (linear: 2x forward; attention: recompute + 4 products = 2.5x forward).
struct StepFLOPs {
    let forward: Double
    let backward: Double
    init(config: HRMConfig, batch: Int, tokens: Int? = nil) {
        let d = Double(config.hiddenSize), inter = Double(config.intermediateSize)
        let s = Double(config.puzzleTokens + (tokens ?? config.seqLen)), b = Double(batch)
        let rows = b * s
        let linear = 2 * rows * d * (4 * d + 3 * inter)
        let attention = 4 * b * s * s * d
        let applications = Double(config.hCycles * config.lCycles * config.lLayers + config.hCycles * config.hLayers)
        let headsFLOPs = 2 * b * Double(tokens ?? config.seqLen) * d * Double(config.vocabSize) + 2 * b * d * 2
        forward = applications * (linear + attention) + headsFLOPs
        let differentiated = Double(config.lLayers + config.hLayers)
        backward = differentiated * (2 * linear + 2.5 * attention) + 2 * headsFLOPs
    }
}

func printProfile(_ profiler: KernelProfiler, total: Double, steps: Int) {
    print("  per-kernel time (mean per step; share of the mean step):")
    print("    kernel                          ms/step    share")
    for (name, seconds) in profiler.seconds.sorted(by: { $0.value > $1.value }) {
        let perStep = seconds / Double(steps)
        print("    " + name.padding(toLength: 30, withPad: " ", startingAt: 0) + String(format: "%9.1f  %6.1f%%", perStep * 1000, 100 * perStep / total))
    }
}

func randomBatch(config: HRMConfig, batch: Int, seed: UInt64) -> (inputs: [Int32], labels: [Int32], identifiers: [Int32]) {
    var generator = SplitMix64(seed: seed)
    let inputs = (0..<(batch * config.seqLen)).map { _ in Int32(2 + generator.next() % 10) }
    let labels = (0..<(batch * config.seqLen)).map { _ in Int32(1 + generator.next() % 11) }
    let identifiers = (0..<batch).map { _ in Int32(1 + Int(generator.next() % UInt64(max(1, config.numPuzzleIdentifiers)))) }
    return (inputs, labels, identifiers)
}

func benchSgemm(repeats: Int) -> Double {
    print("== sgemm (OpenBLAS single-threaded per call, row blocks over \(KernelThreads.count) threads), best of \(repeats + 1)")
    let square = sgemmGFLOPS(m: 1024, n: 1024, k: 1024, transposeB: false, repeats: repeats)
    print("  1024 x 1024 x 1024            \(format(square, 1)) GFLOP/s")
    let rows = 8 * 901
    let shapes: [(String, Int, Int, Int)] = [
        ("qkv   [7208,128] x [384,128]^T", rows, 384, 128),
        ("gate_up [7208,128] x [1024,128]^T", rows, 1024, 128),
        ("down  [7208,512] x [128,512]^T", rows, 128, 512),
        ("scores [901,32] x [901,32]^T", 901, 901, 32),
    ]
    var best = square
    for (label, m, n, k) in shapes {
        let g = sgemmGFLOPS(m: m, n: n, k: k, transposeB: true, repeats: repeats)
        best = max(best, g)
        print("  " + label.padding(toLength: 34, withPad: " ", startingAt: 0) + "\(format(g, 1)) GFLOP/s")
    }
    print("  peak (max of the above)       \(format(best, 1)) GFLOP/s   [kernel set \(BLASBackend.loadedCoreName); load average now: \((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?")]")
    return best
}

func benchStep(options: Options, peak: Double) {
    var config = HRMConfig.cpuBench
    config.numPuzzleIdentifiers = 64
    // The cpu-bench preset's trainer batch (Training's TrainerOptions.preset) unless --batch is given.
    let batch = options.batch ?? 8
    let side = options.side
    let tokensPerExample = side.map { $0 * $0 } ?? config.seqLen
    let sideText = side.map { ", side \($0) (\($0)x\($0) crop of the 30x30 canvas)" } ?? ""
    print("== inner step, preset cpu-bench: D \(config.hiddenSize), heads \(config.numHeads), H/L layers \(config.hLayers)/\(config.lLayers), cycles \(config.hCycles)/\(config.lCycles), inter \(config.intermediateSize), batch \(batch), seq \(tokensPerExample)+\(config.puzzleTokens)\(sideText), threads \(KernelThreads.count)")
    let model = HRMModel<Float>(config: config, maxBatch: batch)
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
    do { try HRMCarry<Float>.validateSide(side, config: config) } catch { fail("--side: \(error)") }
    let carry = HRMCarry<Float>(config: config, batch: batch, side: side)
    carry.resetAll(model: model)
    let flops = StepFLOPs(config: config, batch: batch, tokens: tokensPerExample)
    print("  analytic FLOPs per step: forward \(format(flops.forward / 1e9, 2)) GFLOP, backward \(format(flops.backward / 1e9, 2)) GFLOP")
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

func benchPaper(options: Options) {
    var config = HRMConfig.paper
    config.numPuzzleIdentifiers = 1000
    print("== paper-size inference: D \(config.hiddenSize), heads \(config.numHeads), H/L layers \(config.hLayers)/\(config.lLayers), cycles \(config.hCycles)/\(config.lCycles), batch 1, \(config.haltMaxSteps) ACT steps, puzzle table \(config.numPuzzleIdentifiers + 1) rows, threads \(KernelThreads.count)")
    let model = HRMModel<Float>(config: config, maxBatch: 1)
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

BLASBackend.ensureBestKernels()
let options = parseOptions()
KernelThreads.configure(threads: options.threads)
print(BLASBackend.summary)
var peak = 0.0
if options.mode == "sgemm" || options.mode == "all" || options.mode == "step" { peak = benchSgemm(repeats: options.repeats) }
if options.mode == "step" || options.mode == "all" { benchStep(options: options, peak: peak) }
if options.mode == "paper" || options.mode == "all" { benchPaper(options: options) }
if options.mode == "micro" {
    let n = 901 * 901
    let buffer = Tensor<Float>(shape: [n])
    for i in 0..<n { buffer[i] = Float(i % 1000) * -0.01 }
    var start = now()
    var best = Double.infinity
    for _ in 0..<10 {
        for i in 0..<n { buffer[i] = Float(i % 1000) * -0.01 }
        start = now()
        _ = Float.exponentialShiftedInPlace(buffer.pointer, count: n, shift: 0.5)
        best = min(best, now() - start)
    }
    print("softmax exp: \(format(best / Double(n) * 1e9, 2)) ns/element (one thread), AVX2 build in use: \(KernelsCPU.hasAVX2FMA)")
    let qkv = Tensor<Float>(shape: [8 * 901, 384]), out = Tensor<Float>(shape: [8 * 901, 128])
    for i in 0..<qkv.count { qkv[i] = Float(i % 17) * 0.01 }
    let dqkv = Tensor<Float>(shape: [8 * 901, 384])
    for blockRows in [32, 64, 128, 256, 901] {
        let scratch = AttentionScratch<Float>(seq: 901, blockRows: blockRows)
        var best = Double.infinity, bestBackward = Double.infinity
        for _ in 0..<4 {
            start = now()
            attentionForward(out.pointer, qkv.pointer, scratch: scratch, batch: 8, seq: 901, heads: 4, headDim: 32)
            best = min(best, now() - start)
            start = now()
            attentionBackward(dqkv.pointer, out.pointer, qkv.pointer, scratch: scratch, batch: 8, seq: 901, heads: 4, headDim: 32)
            bestBackward = min(bestBackward, now() - start)
        }
        print("attention layer (B 8, S 901, D 128, 4 heads), query blocks of \(blockRows): forward \(format(best * 1000, 1)) ms, backward \(format(bestBackward * 1000, 1)) ms")
    }
}

if options.mode == "export-check" {
    // A small model with P = 2 (puzzle_emb_ndim 48 > D 32), random q_head and puzzle table.
    let config = HRMConfig(hiddenSize: 32, numHeads: 2, expansion: 4, hLayers: 2, lLayers: 1, hCycles: 2, lCycles: 3,
                           haltMaxSteps: 4, puzzleEmbeddingDim: 48, numPuzzleIdentifiers: 6, seqLen: 16)
    let model = HRMModel<Float>(config: config, maxBatch: 3)
    model.parameters.initialize(seed: options.seed)
    var generator = SplitMix64(seed: options.seed &+ 99)
    let q = model.parameters.layout[ParameterLayout.prefix + "q_head.weight"]
    for i in 0..<q.count { model.parameters.values[q.offset + i] = Float(generator.nextNormal() * 0.3) }
    for i in 0..<model.parameters.puzzleEmbedding.count { model.parameters.puzzleEmbedding[i] = Float(generator.nextNormal() * 0.5) }
    let inputs = (0..<(3 * 16)).map { _ in Int32(generator.next() % 12) }
    let identifiers: [Int32] = [6, 2, 6]
    let carry = HRMCarry<Float>(config: config, batch: 3)
    carry.resetAll(model: model)
    model.innerStep(carry: carry, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: false)
    let directory = URL(fileURLWithPath: options.exportDirectory)
    try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
    try model.save(to: directory.appendingPathComponent("swift_model.safetensors"))
    let outputs = SafeTensorsFile(tensors: [
        "batch.inputs": SafeTensor(name: "batch.inputs", shape: [3, 16], int32: inputs),
        "batch.puzzle_identifiers": SafeTensor(name: "batch.puzzle_identifiers", shape: [3], int32: identifiers),
        "out.logits": SafeTensor(name: "out.logits", shape: [3, 16, 12], floats: Array(model.logits.array.prefix(3 * 16 * 12))),
        "out.q_logits": SafeTensor(name: "out.q_logits", shape: [3, 2], floats: Array(model.qLogits.array.prefix(6))),
        "out.z_H": SafeTensor(name: "out.z_H", shape: [3, config.totalLength, 32], floats: carry.zH.array),
    ], metadata: ["note": "one inner step from the reset carry with swift_model.safetensors"])
    try outputs.write(to: directory.appendingPathComponent("swift_outputs.safetensors"))
    print("wrote \(directory.path)/swift_model.safetensors and swift_outputs.safetensors")
}
