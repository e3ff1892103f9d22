// The sequence codec of docs/SPEC.md §2: a grid placed on a canvas x canvas board (30 x 30 in the
// reference, seq_len 900), row-major, tokens PAD=0, EOS=1, colour c -> c+2, with an EOS border
// right of and below the grid (the corner cell stays PAD), and the decoder that crops the
// largest all-colour rectangle anchored at the grid's top-left corner.
//
// Public API (used by the dataset builder, Voting and HRM):
//   SequenceCodec.encode(grid:canvas:rowOffset:colOffset:) -> [UInt8]
//   SequenceCodec.encodeInt32(grid:canvas:rowOffset:colOffset:) -> [Int32]
//   SequenceCodec.encode(tokens:grid:canvas:rowOffset:colOffset:)   // into a caller's buffer
//   SequenceCodec.encode(tokens:grid:augmentation:canvas:rowOffset:colOffset:)  // augment + encode in one pass
//   SequenceCodec.decode(tokens:canvas:) -> Grid?                     // anchored at (0, 0)
//   SequenceCodec.decode(tokens:canvas:rowOffset:colOffset:) -> Grid? // anchored elsewhere
//   SequenceCodec.locate(tokens:canvas:) -> (row, col)?              // first colour cell
//   SequenceCodec.decodeLocated(tokens:canvas:) -> Grid?              // locate, then decode
//   SequenceCodec.maximumOffsets(rows:cols:canvas:)                   // translation range
// `tokens` may be any random-access collection of integers ([UInt8], [Int32], buffer slices).
import ARCCore

public enum SequenceCodec {
    public static let padToken: UInt8 = 0
    public static let eosToken: UInt8 = 1
    /// Colour c is token c + colourOffset.
    public static let colourOffset: UInt8 = 2
    public static let vocabularySize = 12
    public static let defaultCanvas = 30

    /// The largest top-left offsets at which a rows x cols grid still fits (docs/SPEC.md §2's
    /// translation range is 0...rowMax x 0...colMax, with rows/cols the max over input and output).
    public static func maximumOffsets(rows: Int, cols: Int, canvas: Int = defaultCanvas) -> (row: Int, col: Int) {
        (canvas - rows, canvas - cols)
    }

    /// Writes the encoded grid into `tokens` (canvas * canvas cells, fully overwritten).
    @inlinable
    public static func encode(tokens: UnsafeMutableBufferPointer<UInt8>, grid: Grid,
                              canvas: Int = defaultCanvas, rowOffset: Int = 0, colOffset: Int = 0) {
        precondition(tokens.count >= canvas * canvas, "token buffer has \(tokens.count) cells, canvas needs \(canvas * canvas)")
        precondition(rowOffset >= 0 && colOffset >= 0 && rowOffset + grid.rows <= canvas && colOffset + grid.cols <= canvas,
                     "a \(grid.rows)x\(grid.cols) grid at (\(rowOffset), \(colOffset)) does not fit a \(canvas)x\(canvas) canvas")
        let out = tokens.baseAddress!
        out.update(repeating: padToken, count: canvas * canvas)
        let rows = grid.rows, cols = grid.cols
        grid.cells.withUnsafeBufferPointer { cells in
            for r in 0..<rows {
                let row = out + (rowOffset + r) * canvas + colOffset
                for c in 0..<cols { row[c] = cells[r * cols + c] &+ colourOffset }
                if colOffset + cols < canvas { row[cols] = eosToken }
            }
        }
        if rowOffset + rows < canvas {
            let eosRow = out + (rowOffset + rows) * canvas + colOffset
            eosRow.update(repeating: eosToken, count: cols)
        }
    }

    /// Writes the encoding of `augmentation.apply(to: grid)` into `tokens` without building the
    /// augmented grid (one pass: colour map, dihedral walk, tokens). Offsets refer to the
    /// augmented grid's shape.
    @inlinable
    public static func encode(tokens: UnsafeMutableBufferPointer<UInt8>, grid: Grid, augmentation: Augmentation,
                              canvas: Int = defaultCanvas, rowOffset: Int = 0, colOffset: Int = 0) {
        let (rows, cols) = Dihedral.shape(augmentation.dihedral, rows: grid.rows, cols: grid.cols)
        precondition(tokens.count >= canvas * canvas, "token buffer has \(tokens.count) cells, canvas needs \(canvas * canvas)")
        precondition(rowOffset >= 0 && colOffset >= 0 && rowOffset + rows <= canvas && colOffset + cols <= canvas,
                     "a \(rows)x\(cols) grid at (\(rowOffset), \(colOffset)) does not fit a \(canvas)x\(canvas) canvas")
        let out = tokens.baseAddress!
        out.update(repeating: padToken, count: canvas * canvas)
        let (base, rowStep, colStep) = Dihedral.affine(augmentation.dihedral, rows: grid.rows, cols: grid.cols)
        var table = (UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0), UInt8(0))
        withUnsafeMutableBytes(of: &table) { t in
            for c in 0..<10 { t[c] = augmentation.colours.map[c] &+ colourOffset }
            grid.cells.withUnsafeBufferPointer { cells in
                for i in 0..<rows {
                    let row = out + (rowOffset + i) * canvas + colOffset
                    var k = base + i * rowStep
                    for j in 0..<cols {
                        row[j] = t[Int(cells[k])]
                        k += colStep
                    }
                    if colOffset + cols < canvas { row[cols] = eosToken }
                }
            }
        }
        if rowOffset + rows < canvas {
            (out + (rowOffset + rows) * canvas + colOffset).update(repeating: eosToken, count: cols)
        }
    }

    /// The encoded grid as canvas * canvas tokens.
    public static func encode(grid: Grid, canvas: Int = defaultCanvas, rowOffset: Int = 0, colOffset: Int = 0) -> [UInt8] {
        [UInt8](unsafeUninitializedCapacity: canvas * canvas) { buffer, initialized in
            encode(tokens: buffer, grid: grid, canvas: canvas, rowOffset: rowOffset, colOffset: colOffset)
            initialized = canvas * canvas
        }
    }

    /// The encoded grid as Int32 tokens (for model inputs that want 32-bit indices).
    public static func encodeInt32(grid: Grid, canvas: Int = defaultCanvas, rowOffset: Int = 0, colOffset: Int = 0) -> [Int32] {
        encode(grid: grid, canvas: canvas, rowOffset: rowOffset, colOffset: colOffset).map { Int32($0) }
    }

    @inlinable @inline(__always)
    static func isColour<T: BinaryInteger>(_ token: T) -> Bool { token >= 2 && token <= 11 }

    /// docs/SPEC.md §2 crop anchored at (0, 0): nil when the token at (0, 0) is not a colour.
    @inlinable
    public static func decode<C: RandomAccessCollection>(tokens: C, canvas: Int = defaultCanvas) -> Grid?
    where C.Element: BinaryInteger, C.Index == Int {
        decode(tokens: tokens, canvas: canvas, rowOffset: 0, colOffset: 0)
    }

    /// docs/SPEC.md §2 crop anchored at (rowOffset, colOffset): walk rows top-down keeping the run of
    /// leading colour cells (which can only shrink), keep the (rows, cols) of largest area, and
    /// subtract 2. Nil when the anchor cell is not a colour.
    @inlinable
    public static func decode<C: RandomAccessCollection>(tokens: C, canvas: Int = defaultCanvas,
                                                         rowOffset: Int, colOffset: Int) -> Grid?
    where C.Element: BinaryInteger, C.Index == Int {
        precondition(tokens.count >= canvas * canvas, "decode: \(tokens.count) tokens, canvas needs \(canvas * canvas)")
        precondition(rowOffset >= 0 && rowOffset < canvas && colOffset >= 0 && colOffset < canvas, "decode: anchor outside the canvas")
        let start = tokens.startIndex
        @inline(__always) func at(_ r: Int, _ c: Int) -> C.Element { tokens[start + r * canvas + c] }
        var run = canvas - colOffset
        var best = (rows: 0, cols: 0, area: 0)
        var r = 0
        while rowOffset + r < canvas && run > 0 {
            var c = 0
            while c < run && isColour(at(rowOffset + r, colOffset + c)) { c += 1 }
            run = c
            let area = (r + 1) * run
            if area > best.area { best = (r + 1, run, area) }
            r += 1
        }
        guard best.area > 0 else { return nil }
        var cells = [UInt8]()
        cells.reserveCapacity(best.area)
        for i in 0..<best.rows {
            for j in 0..<best.cols { cells.append(UInt8(truncatingIfNeeded: at(rowOffset + i, colOffset + j)) &- colourOffset) }
        }
        return Grid(rows: best.rows, cols: best.cols, cells: cells)
    }

    /// The first colour cell in row-major order: the top-left corner of a grid encoded at any
    /// offset (everything before it is PAD). Nil when no cell holds a colour.
    @inlinable
    public static func locate<C: RandomAccessCollection>(tokens: C, canvas: Int = defaultCanvas) -> (row: Int, col: Int)?
    where C.Element: BinaryInteger, C.Index == Int {
        let start = tokens.startIndex
        for k in 0..<(canvas * canvas) where isColour(tokens[start + k]) { return (k / canvas, k % canvas) }
        return nil
    }

    /// Locates the grid (for translated train-split examples) and decodes it there.
    @inlinable
    public static func decodeLocated<C: RandomAccessCollection>(tokens: C, canvas: Int = defaultCanvas) -> Grid?
    where C.Element: BinaryInteger, C.Index == Int {
        guard let (r, c) = locate(tokens: tokens, canvas: canvas) else { return nil }
        return decode(tokens: tokens, canvas: canvas, rowOffset: r, colOffset: c)
    }
}
