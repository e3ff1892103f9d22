// Finite-difference gradient checking in Double: central differences of a scalar loss against an
// analytic gradient, reporting the largest difference.
import Kernels
import XCTest

public struct GradientCheckResult {
    public var largestAbsolute = 0.0
    public var largestRelative = 0.0
    public var worstIndex = -1
    public var checked = 0
}

/// Compares analytic[i] with (loss(x_i + h) - loss(x_i - h)) / 2h for up to maxChecks indices of x.
public func finiteDifferenceCheck(
    _ name: String, parameter: UnsafeMutablePointer<Double>, count: Int, analytic: [Double],
    step: Double = 1e-5, absoluteTolerance: Double = 1e-8, relativeTolerance: Double = 1e-6,
    maxChecks: Int = 200, file: StaticString = #filePath, line: UInt = #line,
    loss: () -> Double
) {
    XCTAssertEqual(analytic.count, count, "\(name): analytic gradient size", file: file, line: line)
    var result = GradientCheckResult()
    let stride = max(1, count / maxChecks)
    var index = 0
    while index < count {
        let saved = parameter[index]
        parameter[index] = saved + step
        let plus = loss()
        parameter[index] = saved - step
        let minus = loss()
        parameter[index] = saved
        let numeric = (plus - minus) / (2 * step)
        let difference = abs(numeric - analytic[index])
        let relative = difference / max(abs(numeric), 1e-12)
        if difference > result.largestAbsolute {
            result.largestAbsolute = difference
            result.worstIndex = index
        }
        if difference > absoluteTolerance { result.largestRelative = max(result.largestRelative, relative) }
        XCTAssertLessThanOrEqual(
            difference, absoluteTolerance + relativeTolerance * abs(numeric),
            "\(name)[\(index)]: analytic \(analytic[index]) numeric \(numeric)", file: file, line: line)
        result.checked += 1
        index += stride
    }
    print("FD \(name): checked \(result.checked)/\(count), largest |analytic - numeric| = \(result.largestAbsolute) at \(result.worstIndex), largest relative (above atol) = \(result.largestRelative)")
}

public func randomTensor(_ shape: [Int], _ generator: inout SplitMix64, scale: Double = 1) -> Tensor<Double> {
    let tensor = Tensor<Double>(shape: shape)
    for i in 0..<tensor.count { tensor[i] = (generator.nextUnit() * 2 - 1) * scale }
    return tensor
}

public func dot(_ a: Tensor<Double>, _ b: Tensor<Double>) -> Double {
    var sum = 0.0
    for i in 0..<a.count { sum += a[i] * b[i] }
    return sum
}
