// The `arc-bench` root command: kernel and model benchmarks, one subcommand per benchmark (one file
// each in this folder); results are recorded in BENCHMARKS.md.
//   arc-bench [all]   sgemm, step and paper (the default)
//   arc-bench sgemm   the machine's sgemm peak
//   arc-bench step    sgemm peak, then the HRM inner step at the cpu-bench config (--side S: on a size-bucketed carry)
//   arc-bench paper   paper-size inference at batch 1 for 16 ACT steps (run it in its own process to see its own peak RSS)
//   arc-bench micro   SIMD exp and attention-layer query-block sizes
//   arc-bench export-check DIR   a Swift checkpoint + its logits, checked by the PyTorch reference
//                     (python3 Tools/bench/check_swift_checkpoint.py DIR)
// Common options: --threads N --repeats N --seed N (BenchOptions.swift).
import ArgumentParser
import Foundation
import Kernels

@main
struct ArcBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "arc-bench",
        abstract: "Kernel and model benchmarks of arc-pipeline (results in BENCHMARKS.md).",
        subcommands: [SgemmCommand.self, StepCommand.self, PaperCommand.self, AllCommand.self, MicroCommand.self, ExportCheckCommand.self],
        defaultSubcommand: AllCommand.self)

    /// Switches BLAS to the best kernel set for this CPU (may re-execute the program once), then
    /// runs the benchmark. A bad command line is one `Error:` line and exit code 2.
    static func main() {
        BLASBackend.ensureBestKernels()
        do {
            var command = try parseAsRoot()
            try command.run()
        } catch {
            if exitCode(for: error) == .validationFailure {
                FileHandle.standardError.write(Data((fullMessage(for: error) + "\n").utf8))
                Foundation.exit(2)
            }
            exit(withError: error)
        }
    }
}
