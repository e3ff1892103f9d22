// An ARC grid (docs/SPEC.md §1) as a compact inline SVG for the HTML report: one cell = one user unit,
// colours 0..9 as CSS classes c0..c9 (the ARC palette), the most common colour as one background
// rectangle, every other colour as ONE path of horizontal runs, cell borders as one path, and an
// optional difference overlay (cells that differ from the truth). Compact on purpose: a page with
// thousands of grids stays a few megabytes and opens quickly.
import ARCCore

/// The ARC colour palette (the colours of the ARC Prize viewer), index = cell value.
public enum ARCPalette {
    public static let hex = ["#000000", "#0074D9", "#FF4136", "#2ECC40", "#FFDC00",
                             "#AAAAAA", "#F012BE", "#FF851B", "#7FDBFF", "#870C25"]
    public static let names = ["black", "blue", "red", "green", "yellow",
                               "grey", "magenta", "orange", "azure", "maroon"]
}

public enum GridSVG {
    /// The SVG of `grid`, `cellSize` CSS pixels per cell (the same size for every grid of a role, so
    /// grids are drawn to scale). `role` goes to `data-role` (tests and CSS use it). When `truth` has the
    /// same shape, cells that differ from it are outlined (`class="diff"`) and counted in `data-diff`.
    public static func render(_ grid: Grid, role: String, cellSize: Int, truth: Grid? = nil, label: String? = nil) -> String {
        let rows = grid.rows, cols = grid.cols
        var counts = [Int](repeating: 0, count: 10)
        for v in grid.cells { counts[Int(v)] += 1 }
        let background = counts.indices.max { counts[$0] < counts[$1] || (counts[$0] == counts[$1] && $0 > $1) } ?? 0

        // One path per non-background colour: horizontal runs "M x y h w v1 h-w z".
        var paths = [String](repeating: "", count: 10)
        for r in 0..<rows {
            var c = 0
            while c < cols {
                let v = Int(grid[r, c])
                var end = c + 1
                while end < cols && Int(grid[r, end]) == v { end += 1 }
                if v != background {
                    let w = end - c
                    paths[v] += "M\(c) \(r)h\(w)v1h-\(w)z"
                }
                c = end
            }
        }

        var differing = 0
        var diffPath = ""
        if let truth, truth.rows == rows, truth.cols == cols {
            for r in 0..<rows {
                for c in 0..<cols where grid[r, c] != truth[r, c] {
                    differing += 1
                    diffPath += "M\(c).2 \(r).2h.6v.6h-.6z"
                }
            }
        }

        let title = label ?? "\(role) \(rows)×\(cols)"
        var s = "<svg class=\"grid\" data-role=\"\(role)\" data-rows=\"\(rows)\" data-cols=\"\(cols)\""
        if truth != nil { s += " data-diff=\"\(truth.map { $0.rows == rows && $0.cols == cols } == true ? String(differing) : "shape")\"" }
        s += " width=\"\(cols * cellSize)\" height=\"\(rows * cellSize)\" viewBox=\"0 0 \(cols) \(rows)\" role=\"img\">"
        s += "<title>\(HTML.escape(title))</title>"
        s += "<rect class=\"c\(background)\" width=\"\(cols)\" height=\"\(rows)\"/>"
        for v in 0..<10 where !paths[v].isEmpty {
            s += "<path class=\"c\(v)\" d=\"\(paths[v])\"/>"
        }
        if cellSize >= 4 {
            var lines = ""
            for r in 1..<max(rows, 1) { lines += "M0 \(r)H\(cols)" }
            for c in 1..<max(cols, 1) { lines += "M\(c) 0V\(rows)" }
            if !lines.isEmpty { s += "<path class=\"gl\" d=\"\(lines)\"/>" }
        }
        if !diffPath.isEmpty {
            s += "<path class=\"diffo\" d=\"\(diffPath)\"/><path class=\"diff\" d=\"\(diffPath)\"/>"
        }
        return s + "</svg>"
    }

    /// The CSS the grids need (palette classes, grid lines, difference overlay).
    public static var css: String {
        var s = ""
        for (v, hex) in ARCPalette.hex.enumerated() { s += ".c\(v){fill:\(hex)}" }
        s += "\nsvg.grid{display:block;border:1px solid #888;shape-rendering:crispEdges;background:#000}"
        s += "\nsvg.grid .gl{fill:none;stroke:#555;stroke-width:1px;vector-effect:non-scaling-stroke}"
        s += "\nsvg.grid .diffo{fill:none;stroke:#000;stroke-width:4px;vector-effect:non-scaling-stroke}"
        s += "\nsvg.grid .diff{fill:none;stroke:#fff;stroke-width:2px;vector-effect:non-scaling-stroke}\n"
        return s
    }
}

/// HTML text helpers.
public enum HTML {
    /// Escapes `&`, `<`, `>`, `"` and `'` for text and attribute values.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for ch in text.unicodeScalars {
            switch ch {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(ch)
            }
        }
        return out
    }

    /// A fragment identifier safe for `id` and `href="#..."`: letters, digits, `-`, `_`, `.`; others as `_xx`.
    public static func anchor(_ text: String) -> String {
        var out = ""
        for u in text.unicodeScalars {
            if (u >= "a" && u <= "z") || (u >= "A" && u <= "Z") || (u >= "0" && u <= "9") || u == "-" || u == "_" || u == "." {
                out.unicodeScalars.append(u)
            } else {
                out += "_" + String(u.value, radix: 16)
            }
        }
        return out
    }
}
