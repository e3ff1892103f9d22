// OneDNN: oneDNN's fp32 matmul (dnnl_sgemm) as an optional matmul library, opened at run time.
//
// Measured side by side (Tools/bench/blas_compare.c, one thread, BENCHMARKS.md), Debian's oneDNN
// 2.6.3 runs the model's products 10-30% faster than Debian's OpenBLAS 0.3.21 on an AVX2 CPU, and it
// picks its kernels from the CPU's instruction sets at run time (CPUID), so an unknown or hidden CPU
// model never lands on an old kernel set. It is not a build dependency: `libdnnl.so.2` (Debian
// package libdnnl2, pulled in by libdnnl-dev) is opened with dlopen when present; without it, or with
// ARC_BLAS=openblas, every product goes to OpenBLAS as before. ARC_BLAS=onednn asks for oneDNN and
// says so when it cannot be loaded. Threads: all parallelism is ours (Threading.swift), so each call
// first sets the calling thread's OpenMP team size to 1 (a thread-local setting of libgomp, which
// oneDNN's Debian build uses): oneDNN then computes on the calling thread only.
#if canImport(Glibc)
import Glibc
#endif
import Foundation

public enum OneDNN {
    /// dnnl_sgemm: row-major C = alpha op(A) op(B) + beta C; returns dnnl_status_t (0 = success).
    public typealias SgemmFunction = @convention(c) (
        CChar, CChar, Int64, Int64, Int64, Float, UnsafePointer<Float>?, Int64,
        UnsafePointer<Float>?, Int64, Float, UnsafeMutablePointer<Float>?, Int64) -> Int32
    /// dnnl_gemm_bf16bf16f32: the same with bf16 A and B (their bits as UInt16) and fp32 C.
    public typealias GemmBF16Function = @convention(c) (
        CChar, CChar, Int64, Int64, Int64, Float, UnsafePointer<UInt16>?, Int64,
        UnsafePointer<UInt16>?, Int64, Float, UnsafeMutablePointer<Float>?, Int64) -> Int32
    public typealias SetThreadsFunction = @convention(c) (Int32) -> Void
    typealias IsaFunction = @convention(c) () -> Int32
    typealias VersionFunction = @convention(c) () -> UnsafeRawPointer?

    /// The library's entry points when it is loaded.
    public struct Library: @unchecked Sendable {
        public let sgemm: SgemmFunction
        /// The bf16 x bf16 -> fp32 product (BF16Matmul.swift checks it runs and is right before use).
        public let gemmBF16: GemmBF16Function?
        @usableFromInline let setThreads: SetThreadsFunction
        /// "oneDNN 2.6.3".
        public let name: String
        /// The instruction set oneDNN's kernels use on this CPU (dnnl_get_effective_cpu_isa).
        public let instructionSet: String
        /// The file the library was loaded from (the Kaggle bundle carries its own copy).
        public let path: String
    }

    /// What loading found: the library, or why there is none.
    public enum Availability: Sendable {
        case loaded(Library)
        case unavailable(String)
    }

    /// The shared object name of Debian 12's oneDNN (package libdnnl2).
    public static let sharedObject = "libdnnl.so.2"

    /// Opens oneDNN once per process (nil-safe: every missing piece is a reason, never a trap).
    public static let availability: Availability = load()

    public static var library: Library? {
        if case .loaded(let library) = availability { return library }
        return nil
    }

    static func load() -> Availability {
        #if os(Linux)
        guard let handle = dlopen(sharedObject, RTLD_NOW | RTLD_LOCAL) else {
            let reason = dlerror().map { String(cString: $0) } ?? "not found"
            return .unavailable("\(sharedObject) not loadable (\(reason)); install Debian's libdnnl2")
        }
        func symbol<F>(_ name: String, as type: F.Type) -> F? {
            guard let address = dlsym(handle, name) else { return nil }
            return unsafeBitCast(address, to: type)
        }
        guard let sgemm = symbol("dnnl_sgemm", as: SgemmFunction.self) else {
            return .unavailable("\(sharedObject) has no dnnl_sgemm")
        }
        // libgomp is a dependency of Debian's build; dlsym on the handle searches its dependencies.
        guard let setThreads = symbol("omp_set_num_threads", as: SetThreadsFunction.self) else {
            return .unavailable("\(sharedObject) is not the OpenMP build (no omp_set_num_threads); its threads would fight ours")
        }
        var name = "oneDNN"
        if let version = symbol("dnnl_version", as: VersionFunction.self), let raw = version() {
            let numbers = raw.assumingMemoryBound(to: Int32.self)
            name = "oneDNN \(numbers[0]).\(numbers[1]).\(numbers[2])"
        }
        let isa = symbol("dnnl_get_effective_cpu_isa", as: IsaFunction.self).map { instructionSetName($0()) } ?? "?"
        // The mapped file (dladdr is not visible to Swift on glibc): the process's memory map names it.
        let maps = (try? String(contentsOfFile: "/proc/self/maps", encoding: .utf8)) ?? ""
        let path = maps.split(separator: "\n").lazy
            .compactMap { line in line.split(separator: " ", omittingEmptySubsequences: true).last.map(String.init) }
            .first { $0.hasSuffix("/" + sharedObject) || $0.contains("/" + sharedObject + ".") } ?? sharedObject
        return .loaded(Library(sgemm: sgemm, gemmBF16: symbol("dnnl_gemm_bf16bf16f32", as: GemmBF16Function.self), setThreads: setThreads, name: name, instructionSet: isa, path: path))
        #else
        return .unavailable("oneDNN is only opened on Linux")
        #endif
    }

    /// Names of dnnl_cpu_isa_t values (oneDNN 2.6 dnnl_types.h).
    static func instructionSetName(_ value: Int32) -> String {
        switch value {
        case 0x1: return "SSE4.1"
        case 0x3: return "AVX"
        case 0x7: return "AVX2"
        case 0x407: return "AVX2+VNNI"
        case 0x27: return "AVX-512"
        case 0x67: return "AVX-512+VNNI"
        case 0xe7: return "AVX-512+BF16"
        case 0x3e7: return "AVX-512+AMX"
        default: return String(format: "isa 0x%x", value)
        }
    }

    /// C = alpha op(A) op(B) + beta C through oneDNN on the calling thread; false when oneDNN refused
    /// the call (the caller then uses OpenBLAS).
    @inlinable
    public static func sgemm(
        _ library: Library, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) -> Bool {
        library.setThreads(1)
        return library.sgemm(
            transposeA ? 84 : 78, transposeB ? 84 : 78, Int64(m), Int64(n), Int64(k), alpha, a, Int64(lda),
            b, Int64(ldb), beta, c, Int64(ldc)) == 0
    }

    /// The bf16 product through oneDNN on the calling thread; false when there is none or it refused.
    @inlinable
    public static func gemmBF16(
        _ library: Library, transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<UInt16>, lda: Int, b: UnsafePointer<UInt16>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) -> Bool {
        guard let gemm = library.gemmBF16 else { return false }
        library.setThreads(1)
        return gemm(
            transposeA ? 84 : 78, transposeB ? 84 : 78, Int64(m), Int64(n), Int64(k), alpha, a, Int64(lda),
            b, Int64(ldb), beta, c, Int64(ldc)) == 0
    }
}
