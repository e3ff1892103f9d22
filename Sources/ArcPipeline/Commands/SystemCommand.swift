// `arc-pipeline system`: the machine facts that decide speed, for logs and bug reports: CPU, cores,
// the matmul library (oneDNN or OpenBLAS), the OpenBLAS kernel set (and whether that is the best for this CPU), the
// Float inner loops in use.
import ArgumentParser
import Foundation
import Kernels

struct SystemCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "system",
        abstract: "Print the CPU, the BLAS kernel set in use and the inner-loop build.",
        discussion: """
            The BLAS kernel set is switched to the best one for the CPU's features at start-up (OpenBLAS \
            may pick an old one on CPUs it does not recognise). ARC_BLAS_CORE=keep keeps OpenBLAS's \
            choice; ARC_BLAS_CORE=<Name> (e.g. Haswell, SkylakeX) asks for a kernel set. The fp32 matmuls \
            run on oneDNN when Debian's libdnnl2 is installed (its kernels follow the CPU's instruction \
            sets); ARC_BLAS=openblas keeps them on OpenBLAS, ARC_BLAS=onednn asks for oneDNN.
            """)

    func run() throws {
        let cpu = BLASBackend.cpu
        print("CPU: \(cpu.modelName) (\(cpu.vendor)), \(ProcessInfo.processInfo.activeProcessorCount) cores")
        let features = ["avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16", "amx_bf16", "amx_tile"]
        print("CPU features: " + features.map { "\($0) \(cpu.flags.contains($0) ? "yes" : "no")" }.joined(separator: ", "))
        print(BLASBackend.summary)
        print("fp32 matmul library: \(BLASBackend.oneDNN?.name ?? "OpenBLAS")")
        if let library = OneDNN.library { print("oneDNN loaded from: \(library.path)") }
        print("kernel set in use: \(BLASBackend.loadedCoreName)")
        print("best kernel set for this CPU: \(BLASBackend.best.name)")
        print("Float inner loops: \(KernelsCPU.hasAVX512 ? "AVX-512 (16 lanes)" : KernelsCPU.hasAVX2FMA ? "AVX2+FMA (8 lanes)" : "portable SIMD")")
        print("attention: \(AttentionScratch<Float>(seq: 1, headDim: 32).kernels(path: .automatic).rawValue) at head dim 32 "
              + "(AVX-512 instructions: \(KernelsCPU.hasAVX512 ? "yes" : "no"))")
    }
}
