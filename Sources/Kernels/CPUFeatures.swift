// CPUFeatures: which of the Float inner loops compiled for newer instruction sets may run on this CPU,
// read once from /proc/cpuinfo (Linux; nothing elsewhere): the AVX2 + FMA ones (module KernelsAVX2)
// and their 16-lane AVX-512 builds (module KernelsAVX512). ARC_KERNELS_NO_AVX2 turns both off (to
// measure or test the portable SIMD path), ARC_KERNELS_NO_AVX512 the AVX-512 ones only.
#if canImport(Glibc)
import Glibc
#endif

public enum KernelsCPU {
    /// The CPU's feature flags as /proc/cpuinfo lists them (empty where there is none).
    public static let flags: Set<String> = {
        guard let file = fopen("/proc/cpuinfo", "r") else { return [] }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 {
            guard let line else { break }
            let text = String(cString: line)
            if text.hasPrefix("flags") {
                return Set(text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init))
            }
        }
        return []
    }()

    /// What `-target-cpu haswell` (KernelsAVX2) may use beyond baseline x86-64.
    static let haswellFlags: [String] = ["avx", "avx2", "fma", "f16c", "bmi1", "bmi2", "abm", "movbe", "popcnt"]
    /// What `-target-cpu skylake-avx512` (KernelsAVX512) adds for arithmetic code.
    static let avx512Flags: [String] = ["avx512f", "avx512cd", "avx512bw", "avx512dq", "avx512vl"]

    /// Whether a CPU with these flags may run KernelsAVX2's code (AVX2 and FMA are what it is for; the
    /// rest of Haswell's set comes with them on every such CPU and is checked all the same).
    public static func supportsAVX2FMA(flags: Set<String>) -> Bool {
        haswellFlags.allSatisfy(flags.contains)
    }

    /// Whether a CPU with these flags may run KernelsAVX512's code: Haswell's set plus AVX-512 F, CD, BW,
    /// DQ and VL (Intel Skylake-SP and later Xeons, AMD Zen 4 and later; not Xeon Phi, which lacks BW/DQ/VL).
    public static func supportsAVX512(flags: Set<String>) -> Bool {
        supportsAVX2FMA(flags: flags) && avx512Flags.allSatisfy(flags.contains)
    }

    public static let hasAVX2FMA: Bool = getenv("ARC_KERNELS_NO_AVX2") == nil && supportsAVX2FMA(flags: flags)

    public static let hasAVX512: Bool = hasAVX2FMA && getenv("ARC_KERNELS_NO_AVX512") == nil && supportsAVX512(flags: flags)

    /// Whether a CPU with these flags may run KernelsAVX512BF16's code (`-target-cpu cooperlake`): the
    /// AVX-512 set plus AVX512_BF16 and AVX512_VNNI (Intel Cooper Lake, Sapphire Rapids and later; AMD Zen 4).
    public static func supportsAVX512BF16(flags: Set<String>) -> Bool {
        supportsAVX512(flags: flags) && flags.contains("avx512_bf16") && flags.contains("avx512_vnni")
    }

    /// KernelsAVX512BF16 may run (off with ARC_KERNELS_NO_AVX512, or ARC_KERNELS_NO_AVX512_BF16 alone).
    public static let hasAVX512BF16: Bool = hasAVX512 && getenv("ARC_KERNELS_NO_AVX512_BF16") == nil && supportsAVX512BF16(flags: flags)
}
