// `arc-bench sgemm`: the machine's sgemm peak (best-of-repeats GFLOP/s of a square product and the
// model's A B^T shapes); `step` and `all` measure it first to give the step's share of the peak.
import ArgumentParser
import Foundation
import Kernels

struct SgemmCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sgemm",
        abstract: "The sgemm peak: the matmul library (oneDNN or OpenBLAS) single-threaded per call, row blocks over the kernel threads.")

    @OptionGroup var options: CommonOptions

    func run() {
        options.start()
        _ = benchSgemm(repeats: options.repeats)
    }
}

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

/// Prints the sgemm table and returns the peak (the largest GFLOP/s measured).
func benchSgemm(repeats: Int) -> Double {
    print("== sgemm (\(BLASBackend.oneDNN?.name ?? "OpenBLAS") single-threaded per call, row blocks over \(KernelThreads.count) threads), best of \(repeats + 1)")
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
    print("  peak (max of the above)       \(format(best, 1)) GFLOP/s   [\(BLASBackend.oneDNN.map { "\($0.name), \($0.instructionSet)" } ?? "OpenBLAS kernel set \(BLASBackend.loadedCoreName)"); load average now: \((try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8))?.split(separator: " ").prefix(3).joined(separator: " ") ?? "?")]")
    for (build, limit) in multiplyAddLimits() {
        print("  multiply-add issue limit, \(build.name)   \(format(limit, 1)) GFLOP/s   [register-only FMA chains, \(KernelThreads.count == 1 ? "1 thread" : "\(KernelThreads.count) threads"); the sgemm peak is \(format(100 * best / limit, 0))% of it]")
    }
    return best
}

/// The CPU's multiply-add issue limit per vector build (MultiplyAddPeak), widest first: best of 3 of one
/// register-only loop per kernel thread (~20 ms each).
func multiplyAddLimits() -> [(MultiplyAddPeak.Build, Double)] {
    let rounds = 4_000_000, threads = KernelThreads.count
    return MultiplyAddPeak.builds.map { build in
        var best = Double.infinity
        let sums = UnsafeMutablePointer<Float>.allocate(capacity: threads)
        defer { sums.deallocate() }
        for _ in 0..<3 {
            let start = now()
            parallelParts(threads, parts: threads) { part, _ in
                sums[part] = MultiplyAddPeak.chains(rounds: rounds, multiplier: 0.999999, addend: 1e-3, build: build) ?? 0
            }
            best = min(best, now() - start)
        }
        return (build, Double(threads) * MultiplyAddPeak.flops(rounds: rounds, build: build) / best / 1e9)
    }
}
