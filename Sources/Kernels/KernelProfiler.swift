// Wall time per named kernel, summed over calls: the per-kernel tables of `arc-bench` and
// the model's optional profiling (ReasoningModel.profiler).
import Dispatch

/// Accumulated wall time per kernel name.
public final class KernelProfiler: @unchecked Sendable {
    public private(set) var seconds: [String: Double] = [:]
    public private(set) var calls: [String: Int] = [:]
    public init() {}
    @inline(__always)
    public func measure<R>(_ name: String, _ body: () -> R) -> R {
        let start = DispatchTime.now().uptimeNanoseconds
        let result = body()
        seconds[name, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - start) * 1e-9
        calls[name, default: 0] += 1
        return result
    }
    public func reset() { seconds = [:]; calls = [:] }
}
