// The trainer's weight EMA (TRM's reference trainer, docs/SPEC.md §9): after every optimizer step
// shadow = (1 - mu) * weights + mu * shadow over the dense trainable parameters (not the puzzle
// table, not H_init / L_init), in Float as the reference's fp32 parameters. The shadow starts as
// the weights before the first update (the reference registers it when training starts). The
// shadow is what is evaluated and exported: a checkpoint's model.safetensors holds it, and its
// state.safetensors the training weights (`ema.training_weights`) that exact resume needs.

final class WeightAverage {
    /// mu, in (0, 1).
    let rate: Float
    /// The averaged weights; empty until the first update.
    private(set) var shadow: [Float] = []

    init(rate: Double) {
        self.rate = Float(rate)
    }

    var hasStarted: Bool { !shadow.isEmpty }

    /// Starts the shadow from the weights before the first optimizer step (once).
    func start(weights: UnsafePointer<Float>, count: Int) {
        if shadow.isEmpty { shadow = Array(UnsafeBufferPointer(start: weights, count: count)) }
    }

    /// One update from the weights after an optimizer step.
    func update(weights: UnsafePointer<Float>, count: Int) {
        let mu = rate, keep = 1 - rate
        shadow.withUnsafeMutableBufferPointer { s in
            for i in 0..<count { s[i] = keep * weights[i] + mu * s[i] }
        }
    }

    /// Exchanges the shadow and the weights in place (no-op before the first update).
    func swap(with weights: UnsafeMutablePointer<Float>, count: Int) {
        guard hasStarted else { return }
        shadow.withUnsafeMutableBufferPointer { s in
            for i in 0..<count { let t = s[i]; s[i] = weights[i]; weights[i] = t }
        }
    }

    /// Restores a shadow (from a checkpoint's model file; the count is checked by the caller).
    func restore(shadow values: [Float]) {
        shadow = values
    }
}
