// Sparse sign-SGD for the puzzle-embedding table (docs/SPEC.md §6): only the rows of the
// identifiers present in the batch change; duplicate rows' gradients are summed first;
// p = p * (1 - lr*wd) - lr * sign(g). The arithmetic is Kernels.sparseSignSGDStep.
import Kernels

public struct SparseSignSGD: Sendable {
    public var weightDecay: Float
    public init(weightDecay: Float = 0.1) { self.weightDecay = weightDecay }

    /// - table: the embedding table, `rows x width`, row-major.
    /// - identifiers: the batch's identifier per example (duplicates allowed).
    /// - rowGradients: one gradient row per example, `identifiers.count x width`.
    /// - rowSums: scratch for `width` Doubles (the trainer's, so a step allocates nothing); nil: one is made.
    public func update(table: UnsafeMutablePointer<Float>, rows: Int, width: Int,
                       identifiers: [Int32], rowGradients: UnsafePointer<Float>, learningRate lr: Float,
                       rowSums: UnsafeMutablePointer<Double>? = nil) {
        identifiers.withUnsafeBufferPointer { ids in
            if let rowSums {
                sparseSignSGDStep(table, tableRows: rows, ndim: width, ids.baseAddress!, rowGradients, slots: identifiers.count,
                                  learningRate: Double(lr), weightDecay: Double(weightDecay), rowSums: rowSums)
            } else {
                sparseSignSGDStep(table, tableRows: rows, ndim: width, ids.baseAddress!, rowGradients, slots: identifiers.count,
                                  learningRate: Double(lr), weightDecay: Double(weightDecay))
            }
        }
    }
}
