// Optimizers and schedule against hand-computed values of docs/SPEC.md §6.
import Foundation
import Training
import XCTest

final class OptimizerTests: XCTestCase {
    func testScheduleWarmupThenCosine() {
        let s = LearningRateSchedule(warmupSteps: 10, totalSteps: 110, minRatio: 0.1)
        XCTAssertEqual(s.rate(base: 1e-4, step: 0), 0)
        XCTAssertEqual(s.rate(base: 1e-4, step: 5), 5e-5, accuracy: 1e-12)
        XCTAssertEqual(s.rate(base: 1e-4, step: 10), 1e-4, accuracy: 1e-12)
        XCTAssertEqual(s.rate(base: 1e-4, step: 60), 1e-4 * (0.1 + 0.9 * 0.5), accuracy: 1e-12, "half-way down the cosine")
        XCTAssertEqual(s.rate(base: 1e-4, step: 110), 1e-5, accuracy: 1e-12)
        let constant = LearningRateSchedule(warmupSteps: 2, totalSteps: 100, minRatio: 1.0)
        XCTAssertEqual(constant.rate(base: 3, step: 50), 3, accuracy: 1e-12)
    }

    func testAdamATan2TwoStepsMatchTheFormula() {
        var params: [Float] = [0.5, -1.0, 2.0]
        let grads: [[Float]] = [[0.1, -0.2, 0.0], [0.3, 0.1, -0.5]]
        var opt = AdamATan2(parameterCount: 3, beta1: 0.9, beta2: 0.95, weightDecay: 0.1)
        // Reference in Double.
        var p = params.map(Double.init), m = [Double](repeating: 0, count: 3), v = m
        let lr = 0.01
        for (t, g) in grads.enumerated() {
            params.withUnsafeMutableBufferPointer { pp in
                g.withUnsafeBufferPointer { gp in opt.update(parameters: pp.baseAddress!, gradients: gp.baseAddress!, count: 3, learningRate: Float(lr)) }
            }
            let step = Double(t + 1)
            for i in 0..<3 {
                p[i] *= 1 - lr * 0.1
                m[i] = 0.9 * m[i] + 0.1 * Double(g[i])
                v[i] = 0.95 * v[i] + 0.05 * Double(g[i]) * Double(g[i])
                p[i] -= lr * atan2(m[i] / (1 - pow(0.9, step)), (v[i] / (1 - pow(0.95, step))).squareRoot())
            }
        }
        XCTAssertEqual(opt.step, 2)
        for i in 0..<3 { XCTAssertEqual(Double(params[i]), p[i], accuracy: 1e-6, "parameter \(i)") }
        // A zero gradient from the start only decays the weight (atan2(0, 0) = 0).
        XCTAssertEqual(Double(params[2]), 2.0 * (1 - 0.001) * (1 - 0.001) - 0.01 * atan2(-0.05 / (1 - 0.81), (0.05 * 0.25 / (1 - 0.9025)).squareRoot()), accuracy: 1e-6)
    }

    func testSignSGDSumsDuplicatesAndLeavesAbsentRows() {
        var table: [Float] = [1, 1, 2, 2, 3, 3, 4, 4]  // 4 rows x 2
        let ids: [Int32] = [2, 1, 2]
        // Row 2 gets +1 and -3 (sum -2 -> sign -1) in column 0; +0 and 0 in column 1 (sign 0).
        let grads: [Float] = [1, 0, 5, -5, -3, 0]
        table.withUnsafeMutableBufferPointer { t in
            grads.withUnsafeBufferPointer { g in
                SparseSignSGD(weightDecay: 0.1).update(table: t.baseAddress!, rows: 4, width: 2, identifiers: ids, rowGradients: g.baseAddress!, learningRate: 0.5)
            }
        }
        let decay: Float = 1 - 0.5 * 0.1
        XCTAssertEqual(table[0], 1); XCTAssertEqual(table[1], 1)          // row 0 absent
        XCTAssertEqual(table[6], 4); XCTAssertEqual(table[7], 4)          // row 3 absent
        XCTAssertEqual(table[2], 2 * decay - 0.5, accuracy: 1e-6)         // row 1: sign(+5) = +1
        XCTAssertEqual(table[3], 2 * decay + 0.5, accuracy: 1e-6)         // row 1: sign(-5) = -1
        XCTAssertEqual(table[4], 3 * decay + 0.5, accuracy: 1e-6)         // row 2: sign(1 - 3) = -1
        XCTAssertEqual(table[5], 3 * decay, accuracy: 1e-6)               // row 2: sign(0) = 0
    }
}
