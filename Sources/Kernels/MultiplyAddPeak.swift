// The multiply-add issue limit of this CPU: what its vector units do on register-only chains of fused
// multiply-adds, the ceiling no kernel passes. arc-bench prints it beside the measured sgemm peak, so the
// step's GFLOP/s reads against both the library's best and the hardware's; on AVX-512 CPUs it measures
// the 8-lane build too, which shows cores whose 16 lanes run no faster (one 512-bit FMA unit).
import KernelsAVX2
import KernelsAVX512

public enum MultiplyAddPeak {
    /// A vector build of the chains' loop (VectorMath.swift).
    public enum Build: Sendable {
        /// The 16-lane AVX-512 build (module KernelsAVX512).
        case avx512
        /// The 8-lane AVX2 + FMA build (module KernelsAVX2).
        case avx2

        public var lanes: Int { self == .avx512 ? 16 : 8 }
        public var name: String { self == .avx512 ? "AVX-512 (16 lanes)" : "AVX2+FMA (8 lanes)" }
    }

    /// The builds this CPU may run, widest first (empty without AVX2 + FMA).
    public static var builds: [Build] {
        (KernelsCPU.hasAVX512 ? [.avx512] : []) + (KernelsCPU.hasAVX2FMA ? [.avx2] : [])
    }

    /// FLOPs of `rounds` rounds of one call: 12 chains x lanes x 2.
    public static func flops(rounds: Int, build: Build) -> Double { 24 * Double(build.lanes) * Double(rounds) }

    /// Runs `rounds` rounds of the twelve chains c = c * multiplier + addend on the calling thread (nil when
    /// the CPU cannot run `build`); returns the sum of all their lanes.
    public static func chains(rounds: Int, multiplier: Float, addend: Float, build: Build) -> Float? {
        switch build {
        case .avx512: return KernelsCPU.hasAVX512 ? KernelsAVX512.lanesMultiplyAddChains(rounds, multiplier, addend) : nil
        case .avx2: return KernelsCPU.hasAVX2FMA ? KernelsAVX2.lanesMultiplyAddChains(rounds, multiplier, addend) : nil
        }
    }
}
