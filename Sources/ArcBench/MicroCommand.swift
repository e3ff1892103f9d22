// `arc-bench micro`: the SIMD exp of the softmax (ns per element, one thread) and the attention
// layer (B 8, S 901, D 128, 4 heads) forward and backward for several query-block sizes.
import ArgumentParser
import Kernels

struct MicroCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "micro",
        abstract: "SIMD exp and attention-layer query-block sizes.")

    @OptionGroup var options: CommonOptions

    func run() {
        options.start()
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
}
