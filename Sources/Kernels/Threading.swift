// Threading: the two ways the kernels use the cores. BLAS calls run on OpenBLAS's own threads
// (count set explicitly with openblas_set_num_threads, default all cores); the Swift loops split
// their rows into chunks run with DispatchQueue.concurrentPerform when the work is big enough.
import CBLAS
import Dispatch
#if canImport(Glibc)
import Glibc
#endif

public enum KernelThreads {
    nonisolated(unsafe) public static var count: Int = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))

    /// Sets the thread count for OpenBLAS and for the Swift row loops (0 or less = all cores).
    public static func configure(threads: Int) {
        let all = max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
        count = threads > 0 ? threads : all
        openblas_set_num_threads(Int32(count))
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
    withoutActuallyEscaping(body) { body in
        let box = UncheckedBox(body)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let start = count * chunk / chunks
            let end = count * (chunk + 1) / chunks
            if start < end { box.value(start..<end) }
        }
    }
}

public struct UncheckedBox<T>: @unchecked Sendable {
    public let value: T
    @inlinable public init(_ value: T) { self.value = value }
}
