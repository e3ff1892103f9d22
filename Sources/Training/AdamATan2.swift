// AdamATan2 (docs/SPEC.md §6) over one flat Float buffer: decoupled weight decay, Adam moments,
// and atan2 in place of the epsilon-guarded division:
//   t += 1; p *= 1 - lr*wd; m = b1 m + (1-b1) g; v = b2 v + (1-b2) g^2;
//   p -= lr * atan2(m / (1 - b1^t), sqrt(v / (1 - b2^t))).
import Foundation
import Kernels

public struct AdamATan2: Sendable {
    public var beta1: Float
    public var beta2: Float
    public var weightDecay: Float
    public private(set) var step: Int = 0
    /// First and second moments, one per parameter.
    public var firstMoment: [Float]
    public var secondMoment: [Float]

    public init(parameterCount: Int, beta1: Float = 0.9, beta2: Float = 0.95, weightDecay: Float = 0.1) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.weightDecay = weightDecay
        firstMoment = [Float](repeating: 0, count: parameterCount)
        secondMoment = [Float](repeating: 0, count: parameterCount)
    }

    /// Restores a saved state (exact resume).
    public init(step: Int, firstMoment: [Float], secondMoment: [Float], beta1: Float, beta2: Float, weightDecay: Float) {
        precondition(firstMoment.count == secondMoment.count)
        self.step = step
        self.firstMoment = firstMoment
        self.secondMoment = secondMoment
        self.beta1 = beta1
        self.beta2 = beta2
        self.weightDecay = weightDecay
    }

    /// One update of `parameters` (count elements) from `gradients`, at learning rate `lr`
    /// (the arithmetic is Kernels.adamATan2Step; this type keeps the moments and t).
    public mutating func update(parameters: UnsafeMutablePointer<Float>, gradients: UnsafePointer<Float>, count: Int, learningRate lr: Float) {
        precondition(count == firstMoment.count, "AdamATan2 was made for \(firstMoment.count) parameters, got \(count)")
        step += 1
        let t = step
        firstMoment.withUnsafeMutableBufferPointer { m in
            secondMoment.withUnsafeMutableBufferPointer { v in
                adamATan2Step(parameters, m.baseAddress!, v.baseAddress!, gradients, count: count, step: t,
                              learningRate: Double(lr), beta1: Double(beta1), beta2: Double(beta2), weightDecay: Double(weightDecay))
            }
        }
    }
}
