// Threading: how the kernels use the cores. All parallelism is ours: OpenBLAS is set to ONE thread
// (openblas_set_num_threads(1)), oneDNN runs each call on the calling thread (OneDNN.swift), and
// big products are split into one block per core, run with DispatchQueue.concurrentPerform, like
// the Swift loops and the per-(batch, head) attention.
// (Measured: OpenBLAS's own threads spin after each call and then fight the Swift loops' threads
// for the 2 cores, which made attention ~10x slower; see BENCHMARKS.md.)
import CBLAS
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

public enum KernelThreads {
    nonisolated(unsafe) public static var count: Int = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))

    /// How many pieces a big parallel job is cut into: 4 per thread, run by concurrentPerform so a
    /// core that is busy with another process does not hold the whole job back (1 when single-threaded).
    public static var parts: Int { count <= 1 ? 1 : 4 * count }

    /// Sets the number of worker threads (0 or less = all cores); OpenBLAS itself runs single-threaded
    /// inside each worker.
    public static func configure(threads: Int) {
        let all = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        count = threads > 0 ? threads : all
        openblas_set_num_threads(1)
    }
}

/// Sendable wrapper so raw pointers may be captured by concurrentPerform closures.
public struct SendablePointer<T>: @unchecked Sendable {
    public let pointer: UnsafeMutablePointer<T>
    @inlinable public init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}

/// Runs body over 0..<count split into contiguous chunks, in parallel when count * costPerItem is large.
@inlinable
public func parallelChunks(_ count: Int, costPerItem: Int = 1, _ body: (Range<Int>) -> Void) {
    let threads = KernelThreads.count
    if threads <= 1 || count < 2 || count * costPerItem < 32_768 {
        body(0..<count)
        return
    }
    let chunks = min(count, threads * 4)
    // `body` is captured as it is (concurrentPerform does not keep it): the project's code allocates
    // nothing here; Dispatch itself makes about 4 small allocations per call (StepAllocationTests).
    DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
        let start = count * chunk / chunks
        let end = count * (chunk + 1) / chunks
        if start < end { body(start..<end) }
    }
}

/// Runs body(part, range) for `parts` contiguous parts of 0..<count in parallel (parts <= count).
@inlinable
public func parallelParts(_ count: Int, parts requested: Int, _ body: (Int, Range<Int>) -> Void) {
    let parts = max(1, min(requested, count))
    if parts == 1 {
        body(0, 0..<count)
        return
    }
    DispatchQueue.concurrentPerform(iterations: parts) { part in
        let start = count * part / parts
        let end = count * (part + 1) / parts
        if start < end { body(part, start..<end) }
    }
}

/// Row-parallel gemm: C[m, n] = alpha op(A) op(B) + beta C, split over the rows of C (op(A) rows)
/// when the product is big enough. Only for transposeA == false.
@inlinable
public func parallelGemmRows<T: KernelScalar>(
    transposeB: Bool, m: Int, n: Int, k: Int, alpha: T, a: UnsafePointer<T>, lda: Int,
    b: UnsafePointer<T>, ldb: Int, beta: T, c: UnsafeMutablePointer<T>, ldc: Int
) {
    let work = m * n * k
    let parts = work >= 1 << 20 ? KernelThreads.parts : 1
    let pa = SendablePointer(UnsafeMutablePointer(mutating: a)), pc = SendablePointer(c)
    let pb = SendablePointer(UnsafeMutablePointer(mutating: b))
    parallelParts(m, parts: parts) { _, rows in
        T.gemm(transposeA: false, transposeB: transposeB, m: rows.count, n: n, k: k, alpha: alpha,
               a: pa.pointer + rows.lowerBound * lda, lda: lda, b: pb.pointer, ldb: ldb, beta: beta,
               c: pc.pointer + rows.lowerBound * ldc, ldc: ldc)
    }
}
