// Tensor: a flat, owned, 64-byte aligned buffer of scalars with a shape, for activations, parameters
// and scratch. Reference semantics (copies of the struct share the buffer) and no copy-on-write:
// kernels take raw pointers (`pointer`) and never allocate in hot loops.
// (The owner is a non-generic class: a generic class crashed in swift_allocateGenericClassMetadata
// with this toolchain under -Ounchecked + cross-module optimisation.)
#if canImport(Glibc)
import Glibc
#endif
import Synchronization

/// Owns one aligned allocation; frees it on deinit.
public final class AlignedStorage: @unchecked Sendable {
    public let raw: UnsafeMutableRawPointer
    public let bytes: Int
    public init(bytes: Int) {
        var allocated: UnsafeMutableRawPointer? = nil
        let size = max(64, bytes)
        guard posix_memalign(&allocated, 64, size) == 0, let raw = allocated else {
            // The commands refuse configurations larger than the machine's memory before they allocate
            // (HRM's MemoryEstimate); this is what is left when the system still says no: one line, no trap.
            fputs("Error: out of memory: could not allocate \(size) bytes (\(AllocationLedger.liveBytes) bytes already held); lower --batch-size or the model size\n", stderr)
            exit(71)
        }
        memset(raw, 0, size)
        self.raw = raw
        self.bytes = size
        AllocationLedger.add(size)
    }
    deinit {
        free(raw)
        AllocationLedger.add(-bytes)
    }
}

/// The bytes held by live tensors (every AlignedStorage), and the most held at once since `resetPeak()`:
/// what a memory estimate is checked against in the tests.
public enum AllocationLedger {
    private static let live = Atomic<Int>(0)
    private static let peak = Atomic<Int>(0)

    public static var liveBytes: Int { live.load(ordering: .relaxed) }
    public static var peakBytes: Int { peak.load(ordering: .relaxed) }

    /// Starts the peak again from what is held now.
    public static func resetPeak() { peak.store(live.load(ordering: .relaxed), ordering: .relaxed) }

    static func add(_ bytes: Int) {
        let now = live.wrappingAdd(bytes, ordering: .relaxed).newValue
        var seen = peak.load(ordering: .relaxed)
        while now > seen {
            let (exchanged, original) = peak.compareExchange(expected: seen, desired: now, ordering: .relaxed)
            if exchanged { break }
            seen = original
        }
    }
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
