// Element-wise a += b over a flat buffer, split over the worker threads (residual additions).

/// a += b over count elements.
@inlinable
public func addInPlace<T: KernelScalar>(_ a: UnsafeMutablePointer<T>, _ b: UnsafePointer<T>, count: Int) {
    let pa = SendablePointer(a), pb = SendablePointer(UnsafeMutablePointer(mutating: b))
    parallelChunks(count) { range in
        for i in range { pa.pointer[i] += pb.pointer[i] }
    }
}
