// `arc-bench micro`: the SIMD exp of the softmax (ns per element, one thread) and one attention layer
// (docs/SPEC.md §4 attention) forward and backward, the blocked kernel (old) against the flash kernel
// (new, the model's), on the cpu-bench layer (B 8, S 901, 4 heads x 32), the cpu preset's D 64 on
// 12x12 and 16x16 canvases (B 16, S 145 / 257, 2 heads x 32) and the paper's layer (B 1, S 916, 8 x 64).
// Under native bf16 matmuls (--precision bf16 / auto on a CPU with AVX512_BF16) the flash kernel is the
// model's bf16 attention (FlashAttentionBuild.bf16), to compare with --precision fp32.
import ArgumentParser
import Kernels
#if canImport(Glibc)
import Glibc
#endif

/// CPU seconds used by this process (all threads): unlike the wall clock, not inflated when other
/// processes share the core.
func processCPUSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

extension AttentionPath: ExpressibleByArgument {}

struct MicroCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "micro",
        abstract: "SIMD exp and the attention layer: blocked (old) vs flash (new) kernel.")

    @OptionGroup var options: CommonOptions

    @Option(help: "Query rows per flash tile (1...960; the vector kernels need a multiple of 6).", transform: integerOption(1...960))
    var queryTile: Int = flashQueryTile

    @Option(help: "Keys per flash tile of the backward (1...960; the vector kernels need a multiple of 3 x their lanes: 24 AVX2, 48 AVX-512).",
            transform: integerOption(1...960))
    var keyTile: Int = flashKeyTile

    @Option(help: "Keys per flash tile of the forward (1...960; a multiple of 24 for AVX2, 48 for AVX-512).", transform: integerOption(1...960))
    var forwardKeyTile: Int = flashForwardKeyTile

    @Option(help: "Flash attention kernels: automatic (the widest this CPU has), avx2 (8 lanes even where AVX-512 would run), portable.")
    var attention: AttentionPath = .automatic

    func validate() throws {
        try checkRange("--query-tile", queryTile, 1...960)
        try checkRange("--key-tile", keyTile, 1...960)
        try checkRange("--forward-key-tile", forwardKeyTile, 1...960)
    }

    func run() {
        let choice = options.start()
        // the bf16 attention the model runs under this precision (nil: the fp32 kernels of --attention)
        let bf16Attention = choice.matmul?.isNative == true ? FlashAttentionBuild.bf16 : nil
        let n = 901 * 901
        let buffer = Tensor<Float>(shape: [n])
        var start = now()
        var best = Double.infinity
        for _ in 0..<10 {
            for i in 0..<n { buffer[i] = Float(i % 1000) * -0.01 }
            start = now()
            _ = Float.exponentialShiftedInPlace(buffer.pointer, count: n, shift: 0.5)
            best = min(best, now() - start)
        }
        print("softmax exp: \(format(best / Double(n) * 1e9, 2)) ns/element (one thread), inner loops: "
              + (KernelsCPU.hasAVX512 ? "AVX-512 (16 lanes)" : KernelsCPU.hasAVX2FMA ? "AVX2+FMA (8 lanes)" : "portable SIMD8"))
        let scratch = AttentionScratch<Float>(seq: 1, headDim: 32, queryTile: queryTile, keyTile: keyTile, forwardKeyTile: forwardKeyTile)
        let wide = AttentionScratch<Float>(seq: 1, headDim: 64, queryTile: queryTile, keyTile: keyTile, forwardKeyTile: forwardKeyTile)
        func kernels(_ scratch: AttentionScratch<Float>) -> String {
            if let bf16Attention, scratch.runs(bf16Attention) { return bf16Attention.name }
            return scratch.kernels(path: attention).rawValue
        }
        print("attention layer, best of \(options.repeats), process CPU ms (flash tiles: \(scratch.queryTile) queries x \(scratch.forwardKeyTile) keys forward, "
              + "\(scratch.keyTile) backward; --attention \(attention.rawValue): head dim 32 on the \(kernels(scratch)), "
              + "64 on the \(kernels(wide)))")
        print("shape                        old fwd   old bwd   new fwd   new bwd   speed-up fwd+bwd: CPU, wall")
        for (batch, seq, heads, headDim) in [(8, 901, 4, 32), (16, 145, 2, 32), (16, 257, 2, 32), (1, 916, 8, 64)] {
            measureLayer(batch: batch, seq: seq, heads: heads, headDim: headDim, bf16Attention: bf16Attention)
        }
    }

    func measureLayer(batch: Int, seq: Int, heads: Int, headDim: Int, bf16Attention: FlashAttentionBuild?) {
        let dim = heads * headDim, rows = batch * seq
        let qkv = Tensor<Float>(shape: [rows, 3 * dim]), out = Tensor<Float>(shape: [rows, dim]), dout = Tensor<Float>(shape: [rows, dim])
        let dqkv = Tensor<Float>(shape: [rows, 3 * dim]), lse = Tensor<Float>(shape: [batch * heads * seq])
        var state = options.seed | 1
        func next() -> Float {
            state = state &* 6364136223846793005 &+ 1442695040888963407
            return Float(Double(state >> 40) / Double(1 << 24)) * 2 - 1
        }
        for i in 0..<qkv.count { qkv[i] = next() }
        for i in 0..<dout.count { dout[i] = next() }
        let blocked = BlockedAttentionScratch<Float>(seq: seq)
        let flash = AttentionScratch<Float>(seq: seq, headDim: headDim, queryTile: queryTile, keyTile: keyTile, forwardKeyTile: forwardKeyTile)
        // the fp32 kernels of --attention, or the bf16 ones where they take this layer
        let build = bf16Attention.flatMap { flash.runs($0) ? $0 : nil } ?? flash.kernels(path: attention).build
        var times = [Double](repeating: .infinity, count: 4), wall = [Double](repeating: .infinity, count: 4)
        // Small layers run several times per measurement so one measurement is long enough to time.
        let inner = max(1, 20_000_000 / (batch * heads * seq * seq * headDim))
        for _ in 0..<options.repeats {
            let runs: [() -> Void] = [
                { blockedAttentionForward(out.pointer, qkv.pointer, scratch: blocked, batch: batch, seq: seq, heads: heads, headDim: headDim) },
                { blockedAttentionBackward(dqkv.pointer, dout.pointer, qkv.pointer, scratch: blocked, batch: batch, seq: seq, heads: heads, headDim: headDim) },
                { attentionForward(out.pointer, logSumExp: lse.pointer, qkv.pointer, scratch: flash, batch: batch, seq: seq, heads: heads, headDim: headDim, build: build) },
                { attentionBackward(dqkv.pointer, dout.pointer, out.pointer, logSumExp: lse.pointer, qkv.pointer, scratch: flash, batch: batch, seq: seq, heads: heads, headDim: headDim, build: build) },
            ]
            for (index, run) in runs.enumerated() {
                let start = now(), cpuStart = processCPUSeconds()
                for _ in 0..<inner { run() }
                times[index] = min(times[index], (processCPUSeconds() - cpuStart) / Double(inner))
                wall[index] = min(wall[index], (now() - start) / Double(inner))
            }
        }
        let name = "B \(batch), S \(seq), \(heads) x \(headDim)"
        let padded = name + String(repeating: " ", count: max(0, 28 - name.count))
        let cells = times.map { value -> String in
            let text = format(value * 1000, 2)
            return String(repeating: " ", count: max(0, 9 - text.count)) + text + " "
        }
        print(padded + cells.joined() + "  " + format((times[0] + times[1]) / (times[2] + times[3]), 2) + "x, "
              + format((wall[0] + wall[1]) / (wall[2] + wall[3]), 2) + "x")
    }
}
