// Tensor: a flat, owned, 64-byte aligned buffer of scalars with a shape, for activations, parameters
// and scratch. Reference semantics (copies of the struct share the buffer) and no copy-on-write:
// kernels take raw pointers (`pointer`) and never allocate in hot loops.
// (The owner is a non-generic class: a generic class crashed in swift_allocateGenericClassMetadata
// with this toolchain under -Ounchecked + cross-module optimisation.)
#if canImport(Glibc)
import Glibc
#endif

/// Owns one aligned allocation; frees it on deinit.
public final class AlignedStorage: @unchecked Sendable {
    public let raw: UnsafeMutableRawPointer
    public let bytes: Int
    public init(bytes: Int) {
        var raw: UnsafeMutableRawPointer? = nil
        let size = max(64, bytes)
        precondition(posix_memalign(&raw, 64, size) == 0 && raw != nil, "Tensor: out of memory for \(bytes) bytes")
        memset(raw!, 0, size)
        self.raw = raw!
        self.bytes = size
    }
    deinit { free(raw) }
}

public struct Tensor<T: KernelScalar>: @unchecked Sendable {
    public let storage: AlignedStorage
    public let pointer: UnsafeMutablePointer<T>
    public let count: Int
    public let shape: [Int]

    /// A zero-filled tensor of the given shape.
    public init(shape: [Int]) {
        var elements = 1
        for extent in shape {
            precondition(extent >= 0, "Tensor: negative extent in \(shape)")
            elements *= extent
        }
        count = elements
        self.shape = shape
        storage = AlignedStorage(bytes: elements * MemoryLayout<T>.stride)
        pointer = storage.raw.bindMemory(to: T.self, capacity: max(1, elements))
    }

    public init(shape: [Int], values: [T]) {
        self.init(shape: shape)
        precondition(values.count == count, "Tensor: \(values.count) values for shape \(shape)")
        for index in 0..<count { pointer[index] = values[index] }
    }

    @inlinable public subscript(index: Int) -> T {
        get { pointer[index] }
        nonmutating set { pointer[index] = newValue }
    }

    public func zero() { memset(pointer, 0, count * MemoryLayout<T>.stride) }

    public func copy(from other: Tensor<T>) {
        precondition(other.count == count, "Tensor.copy: \(other.shape) into \(shape)")
        pointer.update(from: other.pointer, count: count)
    }

    public var array: [T] { Array(UnsafeBufferPointer(start: pointer, count: count)) }
}
