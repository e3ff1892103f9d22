// Learning-rate schedule (docs/SPEC.md §6): linear warm-up from 0 over `warmupSteps`, then a
// cosine from the base rate down to `minRatio * base` at `totalSteps` (ratio 1 = constant).
import Foundation

public struct LearningRateSchedule: Sendable, Equatable, Codable {
    public var warmupSteps: Int
    public var totalSteps: Int
    public var minRatio: Double

    public init(warmupSteps: Int, totalSteps: Int, minRatio: Double) {
        self.warmupSteps = warmupSteps
        self.totalSteps = totalSteps
        self.minRatio = minRatio
    }

    /// The rate at `step` (the reference counts steps from 1 and evaluates after incrementing).
    public func rate(base: Double, step: Int) -> Double {
        if step < warmupSteps { return base * Double(step) / Double(max(1, warmupSteps)) }
        let progress = Double(step - warmupSteps) / Double(max(1, totalSteps - warmupSteps))
        return base * (minRatio + max(0, (1 - minRatio) * 0.5 * (1 + cos(Double.pi * progress))))
    }
}
