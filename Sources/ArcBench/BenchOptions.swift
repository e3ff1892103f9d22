// The options of the arc-bench subcommands: CommonOptions (--threads, --repeats, --seed: every
// benchmark) and StepShapeOptions (--preset, --arch, --batch, --side: the inner step of `step` and `all`). Each
// value is checked in validate(), before any benchmark runs; an error names the option and range.
import ArgumentParser
import Foundation
import HRM
import Kernels

enum BenchRanges {
    static let threads = 0...256
    static let repeats = 1...1000
    static let batch = 1...4096
    static let side = 1...30
}

/// Parses an integer option; ArgumentParser prints the thrown text after
/// "The value 'x' is invalid for '--option <value>':".
func integerOption(_ range: ClosedRange<Int>) -> (String) throws -> Int {
    { text in
        guard let value = Int(text) else { throw ValidationError("must be an integer in \(range.lowerBound)...\(range.upperBound)") }
        return value
    }
}

/// `value` (when given) lies in `range`, else one error line naming the option and the range.
func checkRange(_ option: String, _ value: Int?, _ range: ClosedRange<Int>) throws {
    guard let value, !range.contains(value) else { return }
    throw ValidationError("\(option) must be an integer in \(range.lowerBound)...\(range.upperBound), got '\(value)'")
}

struct CommonOptions: ParsableArguments {
    @Option(parsing: .unconditional, help: "Kernel worker threads (0...256; 0: all cores).", transform: integerOption(BenchRanges.threads))
    var threads: Int = 0

    @Option(parsing: .unconditional, help: "Timed repeats; the best is reported (1...1000).", transform: integerOption(BenchRanges.repeats))
    var repeats: Int = 3

    @Option(parsing: .unconditional, help: "Seed of the random weights and inputs (0...\(UInt64.max)).", transform: { text in
        guard let seed = UInt64(text) else { throw ValidationError("must be an integer in 0...\(UInt64.max)") }
        return seed
    })
    var seed: UInt64 = 1

    @Option(help: ArgumentHelp(PrecisionRequest.help))
    var precision: PrecisionRequest = .auto

    func validate() throws {
        try checkRange("--threads", threads, BenchRanges.threads)
        try checkRange("--repeats", repeats, BenchRanges.repeats)
    }

    /// Sets the kernel threads and prints the BLAS line every benchmark starts with; returns the precision chosen.
    @discardableResult
    func start() -> PrecisionChoice {
        KernelThreads.configure(threads: threads)
        print(BLASBackend.summary)
        let choice = PrecisionChoice.choose(precision)
        print(KernelPrecision.configure(choice))
        return choice
    }
}

extension ModelArchitecture: ExpressibleByArgument {}
extension PrecisionRequest: ExpressibleByArgument {}
extension ModelPreset: ExpressibleByArgument {}

struct StepShapeOptions: ParsableArguments {
    @Option(help: "Architecture of the step: hrm (cpu-bench) or trm (TRM's cpu-bench: D 128, 2 layers, 3 x 4 cycles, 16 puzzle tokens).")
    var arch: ModelArchitecture = .hrm

    @Option(help: "Model preset of the step: cpu-bench (default), cpu (the train-eval default) or paper.")
    var preset: ModelPreset = .cpuBench

    @Option(parsing: .unconditional, help: "Batch of the inner step (1...4096; default: the preset's trainer batch: cpu-bench 8, cpu 16, paper 8).", transform: integerOption(BenchRanges.batch))
    var batch: Int?

    @Option(parsing: .unconditional, help: "The step on a size-bucketed carry: the top-left S x S of the 30x30 canvas (1...30); tokens/s counts S*S per example.",
            transform: integerOption(BenchRanges.side))
    var side: Int?

    func validate() throws {
        try checkRange("--batch", batch, BenchRanges.batch)
        try checkRange("--side", side, BenchRanges.side)
        do { try HRMCarry<Float>.validateSide(side, config: preset.config(for: arch)) } catch { throw ValidationError("--side: \(error)") }
    }
}
