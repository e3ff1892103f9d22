// Input embedding (docs/SPEC.md §4): x = sqrt(D) * concat(puzzle_tokens, token_embedding(inputs)), where
// the puzzle-embedding row (ndim wide) is zero-padded to P*D and split into P tokens of width D.
// The puzzle rows are gathered per batch slot from the (large) puzzle table; their gradient is
// returned per slot ([batch, ndim]), i.e. sparse: only the rows used get one (the optimizer sums
// duplicates).

/// rows[batch, ndim] = table[identifiers[b], :]
@inlinable
public func puzzleRowsForward<T: KernelScalar>(
    _ rows: UnsafeMutablePointer<T>, _ table: UnsafePointer<T>, _ identifiers: UnsafePointer<Int32>,
    batch: Int, tableRows: Int, ndim: Int
) {
    for b in 0..<batch {
        let identifier = Int(identifiers[b])
        precondition(identifier >= 0 && identifier < tableRows, "puzzle identifier \(identifier) outside 0..<\(tableRows)")
        (rows + b * ndim).update(from: table + identifier * ndim, count: ndim)
    }
}

/// out[batch, P + tokens, dim] = scale * concat(pad(puzzleRows[b]), tokenTable[inputs[b, t]]).
/// puzzleRows may be nil when ndim == 0 (then P must be 0).
@inlinable
public func inputEmbeddingForward<T: KernelScalar>(
    _ out: UnsafeMutablePointer<T>,
    _ inputs: UnsafePointer<Int32>, _ tokenTable: UnsafePointer<T>, _ puzzleRows: UnsafePointer<T>?,
    batch: Int, tokens: Int, vocab: Int, puzzleTokens: Int, ndim: Int, dim: Int, scale: T
) {
    let seq = puzzleTokens + tokens
    for b in 0..<batch {
        let base = out + b * seq * dim
        if puzzleTokens > 0, let puzzleRows {
            let row = puzzleRows + b * ndim
            for j in 0..<(puzzleTokens * dim) { base[j] = j < ndim ? scale * row[j] : 0 }
        }
        for t in 0..<tokens {
            let token = Int(inputs[b * tokens + t])
            precondition(token >= 0 && token < vocab, "input token \(token) outside 0..<\(vocab)")
            let source = tokenTable + token * dim
            let destination = base + (puzzleTokens + t) * dim
            for j in 0..<dim { destination[j] = scale * source[j] }
        }
    }
}

/// dtokenTable += scale * dout at each token; dpuzzleRows[batch, ndim] = scale * dout of the puzzle tokens (overwritten).
@inlinable
public func inputEmbeddingBackward<T: KernelScalar>(
    _ dtokenTable: UnsafeMutablePointer<T>?, _ dpuzzleRows: UnsafeMutablePointer<T>?,
    _ dout: UnsafePointer<T>, _ inputs: UnsafePointer<Int32>,
    batch: Int, tokens: Int, puzzleTokens: Int, ndim: Int, dim: Int, scale: T
) {
    let seq = puzzleTokens + tokens
    for b in 0..<batch {
        let base = dout + b * seq * dim
        if let dpuzzleRows, ndim > 0 {
            let row = dpuzzleRows + b * ndim
            for j in 0..<ndim { row[j] = scale * base[j] }
        }
        if let dtokenTable {
            for t in 0..<tokens {
                let token = Int(inputs[b * tokens + t])
                let destination = dtokenTable + token * dim
                let source = base + (puzzleTokens + t) * dim
                for j in 0..<dim { destination[j] += scale * source[j] }
            }
        }
    }
}
