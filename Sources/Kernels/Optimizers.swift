// Optimizers (docs/SPEC.md §6). AdamATan2 for every trainable tensor except the puzzle embedding:
// t += 1; p *= 1 - lr*wd; m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g^2;
// p -= lr * atan2(m / (1-b1^t), sqrt(v / (1-b2^t))) (no epsilon). Sparse sign-SGD for the puzzle
// embedding: the slot gradients of duplicate identifiers are summed first, then for each identifier
// present p = p*(1 - lr*wd) - lr*sign(g); rows absent from the batch do not change.
#if canImport(Glibc)
import Glibc
#endif

/// One AdamATan2 step over `count` elements; `step` is t after the increment (1 for the first step).
@inlinable
public func adamATan2Step<T: KernelScalar>(
    _ parameters: UnsafeMutablePointer<T>, _ firstMoment: UnsafeMutablePointer<T>, _ secondMoment: UnsafeMutablePointer<T>,
    _ gradients: UnsafePointer<T>, count: Int, step: Int,
    learningRate: Double, beta1: Double, beta2: Double, weightDecay: Double
) {
    let decay = T(1 - learningRate * weightDecay)
    let b1 = T(beta1), b2 = T(beta2)
    let correction1 = T(1 - pow(beta1, Double(step)))
    let correction2 = T(1 - pow(beta2, Double(step)))
    let rate = learningRate
    let p = SendablePointer(parameters), m = SendablePointer(firstMoment), v = SendablePointer(secondMoment)
    let g = SendablePointer(UnsafeMutablePointer(mutating: gradients))
    parallelChunks(count, costPerItem: 8) { range in
        for i in range {
            let gradient = g.pointer[i]
            let newM = b1 * m.pointer[i] + (1 - b1) * gradient
            let newV = b2 * v.pointer[i] + (1 - b2) * gradient * gradient
            m.pointer[i] = newM
            v.pointer[i] = newV
            let update = atan2(Double(newM / correction1), Double((newV / correction2).squareRoot()))
            p.pointer[i] = p.pointer[i] * decay - T(rate * update)
        }
    }
}

/// Sparse sign-SGD on a table [rows, ndim] from per-slot gradients [slots, ndim] of `identifiers`.
/// `rowSums` is scratch for ndim Doubles: each identifier's slot gradients are summed there in slot
/// order, then its row is updated (identifiers in first-seen order). Allocates nothing.
@inlinable
public func sparseSignSGDStep<T: KernelScalar>(
    _ table: UnsafeMutablePointer<T>, tableRows: Int, ndim: Int,
    _ identifiers: UnsafePointer<Int32>, _ slotGradients: UnsafePointer<T>, slots: Int,
    learningRate: Double, weightDecay: Double, rowSums: UnsafeMutablePointer<Double>
) {
    for slot in 0..<slots {
        let identifier = Int(identifiers[slot])
        precondition(identifier >= 0 && identifier < tableRows, "puzzle identifier \(identifier) outside 0..<\(tableRows)")
    }
    let decay = 1 - learningRate * weightDecay
    for first in 0..<slots {
        let identifier = identifiers[first]
        var seenBefore = false
        for earlier in 0..<first where identifiers[earlier] == identifier { seenBefore = true; break }
        if seenBefore { continue }
        for j in 0..<ndim { rowSums[j] = 0 }
        for slot in first..<slots where identifiers[slot] == identifier {
            let gradient = slotGradients + slot * ndim
            for j in 0..<ndim { rowSums[j] += Double(gradient[j]) }
        }
        let row = table + Int(identifier) * ndim
        for j in 0..<ndim {
            let sign: Double = rowSums[j] > 0 ? 1 : (rowSums[j] < 0 ? -1 : 0)
            row[j] = T(Double(row[j]) * decay - learningRate * sign)
        }
    }
}

/// sparseSignSGDStep with its own scratch (tests).
@inlinable
public func sparseSignSGDStep<T: KernelScalar>(
    _ table: UnsafeMutablePointer<T>, tableRows: Int, ndim: Int,
    _ identifiers: UnsafePointer<Int32>, _ slotGradients: UnsafePointer<T>, slots: Int,
    learningRate: Double, weightDecay: Double
) {
    var rowSums = [Double](repeating: 0, count: max(1, ndim))
    rowSums.withUnsafeMutableBufferPointer {
        sparseSignSGDStep(table, tableRows: tableRows, ndim: ndim, identifiers, slotGradients, slots: slots,
                          learningRate: learningRate, weightDecay: weightDecay, rowSums: $0.baseAddress!)
    }
}
