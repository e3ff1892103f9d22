// CPUFeatures: whether the AVX2 + FMA inner loops (module KernelsAVX2) may run on this CPU, read once
// from /proc/cpuinfo (Linux); false elsewhere or when ARC_KERNELS_NO_AVX2 is set (to measure or test
// the portable SIMD path).
#if canImport(Glibc)
import Glibc
#endif

public enum KernelsCPU {
    public static let hasAVX2FMA: Bool = {
        if getenv("ARC_KERNELS_NO_AVX2") != nil { return false }
        guard let file = fopen("/proc/cpuinfo", "r") else { return false }
        defer { fclose(file) }
        var line: UnsafeMutablePointer<CChar>? = nil
        var capacity = 0
        defer { free(line) }
        while getline(&line, &capacity, file) > 0 {
            guard let line else { break }
            let text = String(cString: line)
            if text.hasPrefix("flags") {
                let flags = Set(text.split(whereSeparator: { $0 == " " || $0 == "\t" || $0 == "\n" }).map(String.init))
                return flags.contains("avx2") && flags.contains("fma")
            }
        }
        return false
    }()
}
