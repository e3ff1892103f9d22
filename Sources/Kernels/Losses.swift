// Losses (docs/SPEC.md §6): stablemax cross-entropy with ignored labels, accumulated in Double
// (s(x) = x+1 for x >= 0, 1/(1-x) for x < 0; log p = log(s(x_label) / sum s(x))), and
// binary cross-entropy with logits. Forward gives per-row losses; backward writes dlogits scaled by a
// per-row weight (the caller's 1/count and batch normalisation).

@inlinable @inline(__always)
func stablemaxS(_ x: Double) -> Double { x >= 0 ? x + 1 : 1 / (1 - x) }

/// losses[rows] = -log stablemax(logits[row])[label] (0 for ignored rows).
@inlinable
public func stablemaxCrossEntropyForward<T: KernelScalar>(
    _ losses: UnsafeMutablePointer<Double>,
    _ logits: UnsafePointer<T>, _ labels: UnsafePointer<Int32>, rows: Int, vocab: Int, ignoreLabel: Int32
) {
    for row in 0..<rows {
        let label = labels[row]
        if label == ignoreLabel {
            losses[row] = 0
            continue
        }
        precondition(label >= 0 && Int(label) < vocab, "label \(label) outside 0..<\(vocab)")
        let line = logits + row * vocab
        var sum = 0.0
        for j in 0..<vocab { sum += stablemaxS(Double(line[j])) }
        losses[row] = -doubleLog(stablemaxS(Double(line[Int(label)])) / sum)
    }
}

/// dlogits[rows, vocab] = weights[row] * d(-log p[label]) / dlogits (0 for ignored rows). Overwrites.
@inlinable
public func stablemaxCrossEntropyBackward<T: KernelScalar>(
    _ dlogits: UnsafeMutablePointer<T>,
    _ logits: UnsafePointer<T>, _ labels: UnsafePointer<Int32>, _ weights: UnsafePointer<Double>,
    rows: Int, vocab: Int, ignoreLabel: Int32
) {
    for row in 0..<rows {
        let out = dlogits + row * vocab
        let label = labels[row]
        if label == ignoreLabel {
            for j in 0..<vocab { out[j] = 0 }
            continue
        }
        let line = logits + row * vocab
        var sum = 0.0
        for j in 0..<vocab { sum += stablemaxS(Double(line[j])) }
        let weight = weights[row]
        for j in 0..<vocab {
            let x = Double(line[j])
            let derivative = x >= 0 ? 1 : 1 / ((1 - x) * (1 - x))
            var gradient = derivative / sum
            if j == Int(label) { gradient -= derivative / stablemaxS(x) }
            out[j] = T(weight * gradient)
        }
    }
}

/// The reference's lm_loss over [batch, tokens] positions: sum over slots of (sum of token losses /
/// max(1, count of non-ignored tokens)). When dlogits is given, writes gradientScale * d lm_loss / d logits
/// (dlogits may be a buffer of its own only: it is written row by row while logits are read).
/// Writes the per-slot counts of non-ignored tokens to `counts` [batch] and returns the loss. Allocates nothing:
/// each row's stablemax sum is computed once and serves the loss and the gradient, with the arithmetic of
/// stablemaxCrossEntropyForward / stablemaxCrossEntropyBackward (the same values, bit for bit).
@inlinable
public func sequenceStablemaxLoss<T: KernelScalar>(
    _ dlogits: UnsafeMutablePointer<T>?,
    _ logits: UnsafePointer<T>, _ labels: UnsafePointer<Int32>,
    batch: Int, tokens: Int, vocab: Int, ignoreLabel: Int32, gradientScale: Double = 1,
    counts: UnsafeMutablePointer<Int>
) -> Double {
    var total = 0.0
    for b in 0..<batch {
        var count = 0
        for t in 0..<tokens where labels[b * tokens + t] != ignoreLabel { count += 1 }
        counts[b] = count
        let divisor = Double(max(1, count))
        let weight = gradientScale / divisor
        var sum = 0.0
        for t in 0..<tokens {
            let row = b * tokens + t
            let label = labels[row]
            if label == ignoreLabel {
                if let dlogits { for j in 0..<vocab { dlogits[row * vocab + j] = 0 } }
                continue
            }
            precondition(label >= 0 && Int(label) < vocab, "label \(label) outside 0..<\(vocab)")
            let line = logits + row * vocab
            var rowSum = 0.0
            for j in 0..<vocab { rowSum += stablemaxS(Double(line[j])) }
            sum += -doubleLog(stablemaxS(Double(line[Int(label)])) / rowSum)
            if let dlogits {
                let out = dlogits + row * vocab
                for j in 0..<vocab {
                    let x = Double(line[j])
                    let derivative = x >= 0 ? 1 : 1 / ((1 - x) * (1 - x))
                    var gradient = derivative / rowSum
                    if j == Int(label) { gradient -= derivative / stablemaxS(x) }
                    out[j] = T(weight * gradient)
                }
            }
        }
        total += sum / divisor
    }
    return total
}

/// sequenceStablemaxLoss returning the per-slot counts as an array (tests, benchmarks).
@inlinable
public func sequenceStablemaxLoss<T: KernelScalar>(
    _ dlogits: UnsafeMutablePointer<T>?,
    _ logits: UnsafePointer<T>, _ labels: UnsafePointer<Int32>,
    batch: Int, tokens: Int, vocab: Int, ignoreLabel: Int32, gradientScale: Double = 1
) -> (loss: Double, counts: [Int]) {
    var counts = [Int](repeating: 0, count: batch)
    let loss = counts.withUnsafeMutableBufferPointer {
        sequenceStablemaxLoss(dlogits, logits, labels, batch: batch, tokens: tokens, vocab: vocab, ignoreLabel: ignoreLabel,
                              gradientScale: gradientScale, counts: $0.baseAddress!)
    }
    return (loss, counts)
}

/// Sum over i of BCE-with-logits(logits[i * stride], targets[i]); when dlogits is given writes
/// gradientScale * (sigmoid(x) - y) at dlogits[i * stride] (other entries untouched).
@inlinable
public func binaryCrossEntropyWithLogits<T: KernelScalar>(
    _ dlogits: UnsafeMutablePointer<T>?,
    _ logits: UnsafePointer<T>, stride: Int, _ targets: UnsafePointer<Double>, count: Int, gradientScale: Double = 1
) -> Double {
    var total = 0.0
    for i in 0..<count {
        let x = Double(logits[i * stride])
        let y = targets[i]
        total += max(x, 0) - x * y + doubleLog1p(doubleExp(-abs(x)))
        if let dlogits {
            let sigmoid = 1 / (1 + doubleExp(-x))
            dlogits[i * stride] = T(gradientScale * (sigmoid - y))
        }
    }
    return total
}
