// Tolerant comparisons against the PyTorch reference's fixtures (HRM and Kernels golden tests):
// each prints the largest difference, so a failure says by how much.
import XCTest

/// Forward-value comparison: |a - b| <= atol + rtol * |b| for every element; prints the largest difference.
@discardableResult
public func assertClose<A: BinaryFloatingPoint, B: BinaryFloatingPoint>(
    _ name: String, _ actual: [A], _ expected: [B], atol: Double = 1e-5, rtol: Double = 1e-4,
    file: StaticString = #filePath, line: UInt = #line
) -> Double {
    XCTAssertEqual(actual.count, expected.count, "\(name): element count", file: file, line: line)
    guard actual.count == expected.count else { return .infinity }
    var largest = 0.0, worst = -1, failures = 0
    for i in 0..<actual.count {
        let a = Double(actual[i]), b = Double(expected[i])
        let difference = abs(a - b)
        if !(difference <= atol + rtol * abs(b)) { failures += 1 }
        if difference > largest || difference.isNaN { largest = difference; worst = i }
    }
    print("compare \(name): \(actual.count) values, largest |diff| = \(largest) at \(worst)")
    XCTAssertEqual(failures, 0, "\(name): \(failures) values outside atol \(atol) + rtol \(rtol); largest diff \(largest) at \(worst) (actual \(worst >= 0 ? Double(actual[worst]) : 0), expected \(worst >= 0 ? Double(expected[worst]) : 0))", file: file, line: line)
    return largest
}

/// Gradient comparison: max |a - b| / max |b| <= tolerance; prints it.
@discardableResult
public func assertGradientClose<A: BinaryFloatingPoint, B: BinaryFloatingPoint>(
    _ name: String, _ actual: [A], _ expected: [B], tolerance: Double = 1e-4,
    file: StaticString = #filePath, line: UInt = #line
) -> Double {
    XCTAssertEqual(actual.count, expected.count, "\(name): element count", file: file, line: line)
    guard actual.count == expected.count else { return .infinity }
    var scale = 0.0, largest = 0.0, worst = -1
    for value in expected { scale = max(scale, abs(Double(value))) }
    for i in 0..<actual.count {
        let difference = abs(Double(actual[i]) - Double(expected[i]))
        if difference > largest || difference.isNaN { largest = difference; worst = i }
    }
    let relative = largest / max(scale, 1e-30)
    print("gradient \(name): \(actual.count) values, max|expected| = \(scale), largest |diff| = \(largest) at \(worst), relative to max = \(relative)")
    XCTAssertLessThanOrEqual(relative, tolerance, "\(name): largest diff \(largest) vs max \(scale)", file: file, line: line)
    XCTAssertGreaterThan(scale, 0, "\(name): expected gradient is all zero (test would be vacuous)", file: file, line: line)
    return relative
}
