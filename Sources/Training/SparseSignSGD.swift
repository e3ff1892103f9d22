// Sparse sign-SGD for the puzzle-embedding table (HRM-SPEC §6): only the rows of the
// identifiers present in the batch change; duplicate rows' gradients are summed first;
// p = p * (1 - lr*wd) - lr * sign(g).

public struct SparseSignSGD: Sendable {
    public var weightDecay: Float
    public init(weightDecay: Float = 0.1) { self.weightDecay = weightDecay }

    /// - table: the embedding table, `rows x width`, row-major.
    /// - identifiers: the batch's identifier per example (duplicates allowed).
    /// - rowGradients: one gradient row per example, `identifiers.count x width`.
    public func update(table: UnsafeMutablePointer<Float>, rows: Int, width: Int,
                       identifiers: [Int32], rowGradients: UnsafePointer<Float>, learningRate lr: Float) {
        var summed: [Int32: [Float]] = [:]
        for (k, id) in identifiers.enumerated() {
            precondition(id >= 0 && Int(id) < rows, "puzzle identifier \(id) outside the table (\(rows) rows)")
            var acc = summed[id] ?? [Float](repeating: 0, count: width)
            for j in 0..<width { acc[j] += rowGradients[k * width + j] }
            summed[id] = acc
        }
        let decay = 1 - lr * weightDecay
        for (id, g) in summed {
            let row = table + Int(id) * width
            for j in 0..<width {
                let s: Float = g[j] > 0 ? 1 : (g[j] < 0 ? -1 : 0)
                row[j] = row[j] * decay - lr * s
            }
        }
    }
}
