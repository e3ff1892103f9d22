// The 8 dihedral transforms of a grid with numpy semantics (docs/SPEC.md §3):
// 0 identity, 1 rot90 (counter-clockwise), 2 rot180, 3 rot270, 4 fliplr, 5 flipud,
// 6 transpose, 7 fliplr(rot90) (anti-transpose). Inverse ids: [0,3,2,1,4,5,6,7].
import ARCCore

public enum Dihedral {
    public static let count = 8
    public static let inverse: [Int] = [0, 3, 2, 1, 4, 5, 6, 7]

    /// Output shape of transform `id` applied to a rows x cols grid.
    @inlinable
    public static func shape(_ id: Int, rows: Int, cols: Int) -> (rows: Int, cols: Int) {
        switch id {
        case 1, 3, 6, 7: return (cols, rows)
        default: return (rows, cols)
        }
    }

    /// Source cell (r, c) in the input for output cell (i, j) of transform `id`;
    /// `rows`/`cols` are the input's shape.
    @inlinable
    public static func source(_ id: Int, i: Int, j: Int, rows: Int, cols: Int) -> (Int, Int) {
        switch id {
        case 0: return (i, j)
        case 1: return (j, cols - 1 - i)             // np.rot90: out[i][j] = in[j][W-1-i]
        case 2: return (rows - 1 - i, cols - 1 - j)
        case 3: return (rows - 1 - j, i)             // rot270: out[i][j] = in[H-1-j][i]
        case 4: return (i, cols - 1 - j)             // fliplr
        case 5: return (rows - 1 - i, j)             // flipud
        case 6: return (j, i)                        // transpose
        case 7: return (rows - 1 - j, cols - 1 - i)  // fliplr(rot90): out[i][j] = rot90[i][W'-1-j]
        default: preconditionFailure("dihedral id \(id) outside 0..7")
        }
    }

    /// Transform `id` as an affine walk over the input's row-major cells: output cell (i, j)
    /// reads input index `base + i * rowStep + j * colStep` (same mapping as `source`).
    @inlinable
    public static func affine(_ id: Int, rows: Int, cols: Int) -> (base: Int, rowStep: Int, colStep: Int) {
        let last = (rows - 1) * cols
        switch id {
        case 0: return (0, cols, 1)
        case 1: return (cols - 1, -1, cols)
        case 2: return (last + cols - 1, -cols, -1)
        case 3: return (last, 1, -cols)
        case 4: return (cols - 1, cols, -1)
        case 5: return (last, -cols, 1)
        case 6: return (0, 1, cols)
        case 7: return (last + cols - 1, -1, -cols)
        default: preconditionFailure("dihedral id \(id) outside 0..7")
        }
    }

    /// Writes dihedral `id` of (colour `map` applied to) the rows x cols grid `source` into
    /// `output` (which holds at least rows * cols cells). `map` has 10 entries.
    @inlinable
    public static func apply(output: UnsafeMutablePointer<UInt8>, source: UnsafePointer<UInt8>,
                             map: UnsafePointer<UInt8>, id: Int, rows: Int, cols: Int) {
        let (h, w) = shape(id, rows: rows, cols: cols)
        let (base, rowStep, colStep) = affine(id, rows: rows, cols: cols)
        var o = 0
        for i in 0..<h {
            var k = base + i * rowStep
            for _ in 0..<w {
                output[o] = map[Int(source[k])]
                o += 1
                k += colStep
            }
        }
    }

    public static func apply(_ id: Int, to grid: Grid) -> Grid {
        if id == 0 { return grid }
        return apply(id, colours: .identity, to: grid)
    }

    /// dihedral(map[grid]) in one pass (docs/SPEC.md §3 order; the two commute).
    public static func apply(_ id: Int, colours: ColourMap, to grid: Grid) -> Grid {
        precondition((0..<count).contains(id), "dihedral id \(id) outside 0..7")
        let (h, w) = shape(id, rows: grid.rows, cols: grid.cols)
        var out = [UInt8](repeating: 0, count: h * w)
        out.withUnsafeMutableBufferPointer { o in
            grid.cells.withUnsafeBufferPointer { src in
                colours.map.withUnsafeBufferPointer { m in
                    apply(output: o.baseAddress!, source: src.baseAddress!, map: m.baseAddress!,
                          id: id, rows: grid.rows, cols: grid.cols)
                }
            }
        }
        return Grid(rows: h, cols: w, cells: out)
    }

    public static func undo(_ id: Int, on grid: Grid) -> Grid { apply(inverse[id], to: grid) }

    /// composition[a][b] is the id of "apply a, then b" (derived once from an asymmetric grid).
    public static let composition: [[Int]] = {
        let probe = Grid(rows: 2, cols: 3, cells: [1, 2, 3, 4, 5, 6])
        let images = (0..<count).map { apply($0, to: probe) }
        return (0..<count).map { a in
            (0..<count).map { b in
                let both = apply(b, to: images[a])
                guard let id = images.firstIndex(of: both) else { preconditionFailure("dihedral group not closed") }
                return id
            }
        }
    }()

    /// The id of "apply `first`, then `second`".
    public static func compose(_ first: Int, then second: Int) -> Int { composition[first][second] }
}
