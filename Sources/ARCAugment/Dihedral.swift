// The 8 dihedral transforms of a grid with numpy semantics (HRM-SPEC §3):
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

    public static func apply(_ id: Int, to grid: Grid) -> Grid {
        if id == 0 { return grid }
        let (h, w) = shape(id, rows: grid.rows, cols: grid.cols)
        var out = [UInt8](repeating: 0, count: h * w)
        grid.cells.withUnsafeBufferPointer { src in
            for i in 0..<h {
                for j in 0..<w {
                    let (r, c) = source(id, i: i, j: j, rows: grid.rows, cols: grid.cols)
                    out[i * w + j] = src[r * grid.cols + c]
                }
            }
        }
        return Grid(rows: h, cols: w, cells: out)
    }

    public static func undo(_ id: Int, on grid: Grid) -> Grid { apply(inverse[id], to: grid) }
}
