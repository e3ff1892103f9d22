// BLASBackend: which library runs the fp32 matmuls (oneDNN when present, else OpenBLAS: OneDNN.swift),
// which OpenBLAS kernel set ("core") runs OpenBLAS's products, whether it is the best one this CPU
// supports, and the switch to it.
//
// Debian's OpenBLAS (DYNAMIC_ARCH) picks its kernel set from the CPU's family/model numbers when the
// library loads. On CPUs it does not know (new Xeons, VMs that hide the model), it falls back to an
// old set such as Prescott (SSE3), four to five times slower than the AVX-512 kernels the CPU can
// run; an environment may also pin OPENBLAS_CORETYPE to an old set. The choice can only be changed
// before the library initialises, so an executable calls `ensureBestKernels()` first thing: when the
// loaded set is below the best set for the CPU's feature flags (from /proc/cpuinfo), it sets
// OPENBLAS_CORETYPE and re-executes itself once. Every process then runs a small sgemm self-check
// against a Double reference; a kernel set that computes wrong results is dropped for the next lower
// one. `ARC_BLAS_CORE=keep` keeps whatever OpenBLAS chose; `ARC_BLAS_CORE=<Name>` asks for a set.
import CBLAS
import Foundation
#if canImport(Glibc)
import Glibc
#endif

public enum BLASBackend {
    /// An OpenBLAS x86-64 kernel set and the instruction-set level it needs (higher = wider vectors).
    public struct KernelSet: Equatable, CustomStringConvertible {
        public let name: String
        public let level: Int
        public var description: String { "\(name) (\(BLASBackend.levelNames[level] ?? "?"))" }
    }

    static let levelNames = [1: "SSE2/SSE3", 2: "SSE4.2", 3: "AVX", 4: "AVX2+FMA", 5: "AVX-512", 6: "AVX-512+BF16"]

    /// Instruction-set level of OpenBLAS 0.3.x x86-64 core names (case-insensitive); nil when unknown.
    public static func level(ofCore name: String) -> Int? {
        switch name.lowercased() {
        case "katmai", "coppermine", "northwood", "banias", "athlon", "opteron", "prescott", "core2", "penryn",
             "dunnington", "atom", "opteron_sse3", "bobcat": return 1
        case "nehalem", "barcelona": return 2
        case "sandybridge", "bulldozer", "piledriver", "steamroller", "excavator": return 3
        case "haswell", "zen", "skylake": return 4
        case "skylakex": return 5
        case "cooperlake", "sapphirerapids": return 6
        default: return nil
        }
    }

    /// The best kernel set of Debian's OpenBLAS 0.3.21 for a CPU with these /proc/cpuinfo flags.
    public static func bestKernelSet(flags: Set<String>, vendor: String) -> KernelSet {
        let avx512 = ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains)
        if avx512 && flags.contains("avx512_bf16") { return KernelSet(name: "Cooperlake", level: 6) }
        if avx512 { return KernelSet(name: "SkylakeX", level: 5) }
        if flags.contains("avx2") && flags.contains("fma") {
            let amd = vendor == "AuthenticAMD" || vendor == "HygonGenuine"
            return KernelSet(name: amd ? "Zen" : "Haswell", level: 4)
        }
        if flags.contains("avx") { return KernelSet(name: "Sandybridge", level: 3) }
        if flags.contains("sse4_2") { return KernelSet(name: "Nehalem", level: 2) }
        return KernelSet(name: "Prescott", level: 1)
    }

    /// The next lower kernel set to try when `set` computes wrong results.
    static func fallback(below set: KernelSet, vendor: String) -> KernelSet? {
        switch set.level {
        case 6: return KernelSet(name: "SkylakeX", level: 5)
        case 5: return KernelSet(name: vendor == "AuthenticAMD" ? "Zen" : "Haswell", level: 4)
        case 4: return KernelSet(name: "Sandybridge", level: 3)
        case 3: return KernelSet(name: "Nehalem", level: 2)
        case 2: return KernelSet(name: "Prescott", level: 1)
        default: return nil
        }
    }

    /// The CPU as /proc/cpuinfo describes it (first processor): model name, vendor, flags.
    public struct CPUInfo {
        public var modelName = "unknown CPU"
        public var vendor = ""
        public var flags: Set<String> = []
    }

    public static let cpu: CPUInfo = {
        var info = CPUInfo()
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return info }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let key = parts[0].trimmingCharacters(in: .whitespaces), value = parts[1].trimmingCharacters(in: .whitespaces)
            switch key {
            case "model name" where info.modelName == "unknown CPU": info.modelName = value
            case "vendor_id" where info.vendor.isEmpty: info.vendor = value
            case "flags" where info.flags.isEmpty: info.flags = Set(value.split(separator: " ").map(String.init))
            default: break
            }
        }
        return info
    }()

    /// The kernel set OpenBLAS loaded in this process.
    public static var loadedCoreName: String { String(cString: openblas_get_corename()) }
    /// OpenBLAS's build description (version, DYNAMIC_ARCH, ...).
    public static var configuration: String { String(cString: openblas_get_config()) }
    /// "OpenBLAS 0.3.21" from the configuration string.
    public static var libraryName: String { configuration.split(separator: " ").prefix(2).joined(separator: " ") }

    /// The best kernel set for this machine's CPU.
    public static var best: KernelSet { bestKernelSet(flags: cpu.flags, vendor: cpu.vendor) }

    /// What `ensureBestKernels` did, for the summary line.
    nonisolated(unsafe) public static var note = ""
    /// Whether the self-check of the loaded kernel set passed (nil before it ran).
    nonisolated(unsafe) public static var selfCheckPassed: Bool?

    static let reexecMarker = "ARC_BLAS_REEXEC"
    static let rejectedMarker = "ARC_BLAS_REJECTED"

    /// Makes sure the loaded kernel set is the best one for the CPU that also computes right, re-executing
    /// the program (at most a few times) with OPENBLAS_CORETYPE set when it is not. Call it first thing in
    /// an executable's main, before any thread starts. Linux/x86-64 only; elsewhere it does nothing.
    public static func ensureBestKernels() {
        #if os(Linux) && arch(x86_64)
        let environment = ProcessInfo.processInfo.environment
        let request = environment["ARC_BLAS_CORE"] ?? "auto"
        let rejected = Set((environment[rejectedMarker] ?? "").split(separator: ",").map(String.init))
        let loaded = loadedCoreName
        let loadedLevel = level(ofCore: loaded) ?? 0
        if let previous = environment[reexecMarker] { note = previous }

        // A kernel set that computes wrong results is never kept: try the next lower one.
        if !selfCheck() {
            var next = fallback(below: KernelSet(name: loaded, level: loadedLevel), vendor: cpu.vendor)
            while let candidate = next, rejected.contains(candidate.name) { next = fallback(below: candidate, vendor: cpu.vendor) }
            if let next {
                reexec(core: next.name, reason: "the \(loaded) kernels failed the sgemm self-check; using \(next.name)",
                       rejected: rejected.union([loaded]))
            }
            note = "WARNING: the \(loaded) kernels failed the sgemm self-check and no lower kernel set is left"
            return
        }
        if request == "keep" || environment[reexecMarker] != nil { return }

        let wanted: KernelSet
        if request == "auto" {
            wanted = best
        } else if let requested = level(ofCore: request) {
            wanted = KernelSet(name: request, level: requested)
        } else {
            note = "ARC_BLAS_CORE=\(request) is not a known kernel set; kept \(loaded)"
            return
        }
        let userPinned = environment["OPENBLAS_CORETYPE"]
        guard wanted.level > loadedLevel || (request != "auto" && wanted.name.lowercased() != loaded.lowercased()),
              !rejected.contains(wanted.name) else { return }
        if request != "auto" && wanted.level > best.level {
            note = "ARC_BLAS_CORE=\(request) needs instructions this CPU lacks; kept \(loaded)"
            return
        }
        let why = request == "auto" ? "the best kernel set for this CPU (ARC_BLAS_CORE=keep keeps OpenBLAS's choice)" : "as ARC_BLAS_CORE asks"
        let reason = userPinned.map { "OPENBLAS_CORETYPE=\($0) overridden: \(wanted.name) is \(why)" }
            ?? "OpenBLAS chose \(loaded); switched to \(wanted.name), \(why)"
        reexec(core: wanted.name, reason: reason, rejected: rejected)
        #endif
    }

    /// Re-executes this program with OPENBLAS_CORETYPE=core; returns only when exec fails.
    static func reexec(core: String, reason: String, rejected: Set<String>) {
        setenv("OPENBLAS_CORETYPE", core, 1)
        setenv(reexecMarker, reason, 1)
        if !rejected.isEmpty { setenv(rejectedMarker, rejected.sorted().joined(separator: ","), 1) }
        execv("/proc/self/exe", CommandLine.unsafeArgv)
        note = "could not re-execute to switch to \(core) (\(String(cString: strerror(errno)))); kept \(loadedCoreName)"
    }

    /// The matmul library of the Float products, chosen once per process from ARC_BLAS: `auto` (the
    /// default) takes oneDNN when it loads and passes the self-check, else OpenBLAS; `openblas`;
    /// `onednn` (OpenBLAS, said in the summary, when oneDNN cannot be used). OneDNN.swift says why.
    public struct MatmulChoice: Sendable {
        public let oneDNN: OneDNN.Library?
        /// "oneDNN 2.6.3, AVX2 kernels, self-check passed" or "OpenBLAS (why)".
        public let description: String
    }

    public static let matmul: MatmulChoice = chooseMatmul(request: ProcessInfo.processInfo.environment["ARC_BLAS"] ?? "auto")

    /// oneDNN when it runs the Float products (the gemm's fast check).
    public static var oneDNN: OneDNN.Library? { matmul.oneDNN }

    /// The choice for an ARC_BLAS value (`auto`, `openblas`, `onednn`, any case).
    public static func chooseMatmul(request: String) -> MatmulChoice {
        let asked = request.lowercased()
        guard asked == "auto" || asked == "onednn" else {
            let why = asked == "openblas" ? "ARC_BLAS=openblas" : "ARC_BLAS=\(request) is not auto, openblas or onednn"
            return MatmulChoice(oneDNN: nil, description: "OpenBLAS (\(why))")
        }
        let prefix = asked == "onednn" ? "ARC_BLAS=onednn, but " : ""
        switch OneDNN.availability {
        case .unavailable(let why):
            return MatmulChoice(oneDNN: nil, description: "OpenBLAS (\(prefix)oneDNN unavailable: \(why))")
        case .loaded(let library):
            let gemm: SgemmCall = { transposeB, m, n, k, a, lda, b, ldb, c, ldc in
                OneDNN.sgemm(library, transposeA: false, transposeB: transposeB, m: m, n: n, k: k,
                             alpha: 1, a: a, lda: lda, b: b, ldb: ldb, beta: 0, c: c, ldc: ldc)
            }
            guard selfCheck(gemm) else {
                return MatmulChoice(oneDNN: nil, description: "OpenBLAS (\(prefix)\(library.name) FAILED the sgemm self-check)")
            }
            return MatmulChoice(oneDNN: library, description: "\(library.name), \(library.instructionSet) kernels chosen by oneDNN, self-check passed")
        }
    }

    /// One sgemm for the self-check: C = op(A) op(B), row-major, A not transposed; false = refused.
    typealias SgemmCall = (Bool, Int, Int, Int, UnsafePointer<Float>, Int, UnsafePointer<Float>, Int, UnsafeMutablePointer<Float>, Int) -> Bool

    /// OpenBLAS's sgemm on a few awkward shapes (both transposes, odd sizes) against a Double reference.
    @discardableResult
    public static func selfCheck() -> Bool {
        if let passed = selfCheckPassed { return passed }
        let passed = selfCheck { transposeB, m, n, k, a, lda, b, ldb, c, ldc in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans, Int32(m), Int32(n), Int32(k),
                        1, a, Int32(lda), b, Int32(ldb), 0, c, Int32(ldc))
            return true
        }
        selfCheckPassed = passed
        return passed
    }

    /// A library's sgemm on the self-check shapes against a Double reference.
    static func selfCheck(_ gemm: SgemmCall) -> Bool {
        var generator = SplitMix64(seed: 20_251_129)
        var passed = true
        for (m, n, k, transposeB) in [(67, 45, 131, false), (33, 129, 70, true), (128, 96, 256, true), (5, 1, 17, false)] {
            let a = (0..<(m * k)).map { _ in Float(generator.nextUnit() * 2 - 1) }
            let b = (0..<(k * n)).map { _ in Float(generator.nextUnit() * 2 - 1) }
            var c = [Float](repeating: 0, count: m * n)
            let done = a.withUnsafeBufferPointer { a in
                b.withUnsafeBufferPointer { b in
                    c.withUnsafeMutableBufferPointer { c in
                        gemm(transposeB, m, n, k, a.baseAddress!, k, b.baseAddress!, transposeB ? k : n, c.baseAddress!, n)
                    }
                }
            }
            if !done { return false }
            for i in 0..<m {
                for j in 0..<n {
                    var sum = 0.0, magnitude = 0.0
                    for p in 0..<k {
                        let product = Double(a[i * k + p]) * Double(transposeB ? b[j * k + p] : b[p * n + j])
                        sum += product
                        magnitude += abs(product)
                    }
                    if abs(Double(c[i * n + j]) - sum) > 1e-5 * magnitude + 1e-6 { passed = false }
                }
            }
        }
        return passed
    }

    /// One line for logs: library, kernel set in use, best for the CPU, self-check, and what was done.
    public static var summary: String {
        let loaded = loadedCoreName
        let inUse = KernelSet(name: loaded, level: level(ofCore: loaded) ?? 0)
        let verdict: String
        if inUse.level >= best.level { verdict = "the best for this CPU" }
        else { verdict = "BELOW the best for this CPU, \(best)" }
        let check = selfCheckPassed.map { $0 ? "self-check passed" : "SELF-CHECK FAILED" } ?? "self-check not run"
        return "BLAS: \(libraryName), kernel set \(inUse), \(verdict); \(check); CPU: \(cpu.modelName)"
            + (note.isEmpty ? "" : "\n  (\(note))")
            + "\n  fp32 matmuls: \(matmul.description)"
            + "\n  attention (Float, head dim 32): \(AttentionScratch<Float>(seq: 1, headDim: 32).kernels(path: .automatic).rawValue); bf16 "
            + "attention (native --precision bf16): " + bf16AttentionSummary
    }

    /// What the bf16 attention is on this CPU (FlashAttentionBuild.bf16 and its self-checks).
    static var bf16AttentionSummary: String {
        guard KernelsCPU.hasAVX512BF16 else {
            return "none (no AVX512_BF16)" + (FlashAttentionBuild.emulatedBF16 != nil ? "; emulated on AVX2 under emulated bf16 matmuls" : "")
        }
        guard let build = FlashAttentionBuild.bf16 else { return "OFF (its forward's self-check against the fp32 kernels FAILED)" }
        return build.trainable ? "AVX512_BF16 forward and backward, self-checks passed"
            : "AVX512_BF16 forward where no gradient is taken, self-check passed (the backward's FAILED: fp32 backward, fp32 steps with gradient)"
    }
}
