// What the benchmarks share: the clock, peak RSS, number formatting, the per-kernel time table and
// a random batch of tokens and puzzle identifiers.
import Dispatch
import Foundation
import HRM
import Kernels

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
