// An ARC grid: 1..30 rows by 1..30 columns of colours 0..9 (docs/SPEC.md §1), stored row-major.

public struct Grid: Hashable, Sendable, CustomStringConvertible {
    public static let maxSide = 30
    public let rows: Int
    public let cols: Int
    /// Row-major cells, each 0...9.
    public private(set) var cells: [UInt8]

    /// Creates a grid; the caller guarantees the shape and values (see `validated`).
    public init(rows: Int, cols: Int, cells: [UInt8]) {
        precondition(rows * cols == cells.count, "grid cells do not match its shape")
        self.rows = rows
        self.cols = cols
        self.cells = cells
    }

    public init(rows: Int, cols: Int, fill: UInt8 = 0) {
        self.init(rows: rows, cols: cols, cells: [UInt8](repeating: fill, count: rows * cols))
    }

    /// Builds a grid from nested rows, checking every rule of docs/SPEC.md §1.
    public init(validating rowsOfCells: [[Int]]) throws(GridProblem) {
        guard !rowsOfCells.isEmpty else { throw .empty }
        guard rowsOfCells.count <= Grid.maxSide else { throw .tooManyRows(rowsOfCells.count) }
        let width = rowsOfCells[0].count
        guard width > 0 else { throw .empty }
        guard width <= Grid.maxSide else { throw .tooManyColumns(width) }
        var cells = [UInt8]()
        cells.reserveCapacity(rowsOfCells.count * width)
        for (r, row) in rowsOfCells.enumerated() {
            guard row.count == width else { throw .ragged(row: r, length: row.count, expected: width) }
            for (c, v) in row.enumerated() {
                guard (0...9).contains(v) else { throw .badCell(row: r, col: c, value: "\(v)") }
                cells.append(UInt8(v))
            }
        }
        self.init(rows: rowsOfCells.count, cols: width, cells: cells)
    }

    public subscript(r: Int, c: Int) -> UInt8 {
        get { cells[r * cols + c] }
        set { cells[r * cols + c] = newValue }
    }

    public var nestedRows: [[Int]] {
        (0..<rows).map { r in (0..<cols).map { c in Int(cells[r * cols + c]) } }
    }

    public var description: String {
        (0..<rows).map { r in (0..<cols).map { String(cells[r * cols + $0]) }.joined() }.joined(separator: "\n")
    }

    /// Compact JSON text `[[1,2],[3,4]]`.
    public var jsonText: String {
        var s = "["
        for r in 0..<rows {
            if r > 0 { s += "," }
            s += "["
            for c in 0..<cols {
                if c > 0 { s += "," }
                s += String(cells[r * cols + c])
            }
            s += "]"
        }
        return s + "]"
    }
}

/// What is wrong with a grid, without its location (the loader adds that).
public enum GridProblem: Error, Equatable, Sendable, CustomStringConvertible {
    case notAnArray(found: String)
    case rowNotAnArray(row: Int, found: String)
    case empty
    case tooManyRows(Int)
    case tooManyColumns(Int)
    case ragged(row: Int, length: Int, expected: Int)
    case badCell(row: Int, col: Int, value: String)

    public var description: String {
        switch self {
        case let .notAnArray(found): return "grid is \(found), expected an array of rows"
        case let .rowNotAnArray(row, found): return "row \(row) is \(found), expected an array of cells"
        case .empty: return "grid is empty (needs 1..30 rows and 1..30 columns)"
        case let .tooManyRows(n): return "grid has \(n) rows (at most 30)"
        case let .tooManyColumns(n): return "grid has \(n) columns (at most 30)"
        case let .ragged(row, length, expected): return "ragged grid: row \(row) has \(length) cells, row 0 has \(expected)"
        case let .badCell(row, col, value): return "cell [\(row)][\(col)] is \(value), expected an integer 0..9"
        }
    }
}

extension Grid {
    /// Parses a grid from a JSON value with exact diagnostics.
    public init(json: JSONValue) throws(GridProblem) {
        guard case let .array(rowValues) = json else { throw .notAnArray(found: json.kindName) }
        var rowsOfCells = [[Int]]()
        rowsOfCells.reserveCapacity(rowValues.count)
        for (r, rv) in rowValues.enumerated() {
            guard case let .array(cellValues) = rv else { throw .rowNotAnArray(row: r, found: rv.kindName) }
            var row = [Int]()
            row.reserveCapacity(cellValues.count)
            for (c, cv) in cellValues.enumerated() {
                switch cv {
                case let .int(v): row.append(v)
                case let .double(d): throw .badCell(row: r, col: c, value: "\(d) (not an integer)")
                default: throw .badCell(row: r, col: c, value: cv.kindName)
                }
            }
            rowsOfCells.append(row)
        }
        try self.init(validating: rowsOfCells)
    }
}
