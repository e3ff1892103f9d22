// Training curves for the HTML report: a small inline-SVG line chart with labelled axes, "nice" tick
// values and a legend, one or more series of (x, y) points (x = training step). Long series are
// thinned to at most `maxPoints` points per series (keeping the first and last) so the page stays small.
import Foundation

public struct ChartSeries: Sendable {
    public var name: String
    public var points: [(x: Double, y: Double)]
    public init(name: String, points: [(x: Double, y: Double)]) {
        self.name = name
        self.points = points
    }
}

public enum LineChartSVG {
    /// Series colours (chosen to read on white and to be told apart).
    public static let colours = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]

    /// Ticks at 1, 2 or 5 times a power of ten covering `low...high`, about `count` of them.
    public static func niceTicks(low: Double, high: Double, count: Int = 5) -> [Double] {
        guard low.isFinite, high.isFinite else { return [] }
        var lo = low, hi = high
        if hi - lo < 1e-12 {
            let pad = max(abs(lo) * 0.05, 1e-6)
            lo -= pad
            hi += pad
        }
        let rough = (hi - lo) / Double(max(count, 1))
        let power = pow(10, floor(log10(rough)))
        let fraction = rough / power
        let step = (fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10) * power
        var ticks = [Double]()
        var t = floor(lo / step) * step
        while t <= hi + step * 0.5 + 1e-12 && ticks.count < 50 {
            ticks.append(abs(t) < step * 1e-9 ? 0 : t)
            if t >= hi - 1e-12 { break }
            t += step
        }
        return ticks
    }

    /// A short label for a tick value.
    public static func tickLabel(_ v: Double, step: Double) -> String {
        if v == 0 { return "0" }
        let a = abs(v)
        if a >= 1e6 { return String(format: "%.3gM", v / 1e6) }
        if a >= 1e4 { return String(format: "%.3gk", v / 1e3) }
        if step >= 1 { return String(format: "%.0f", v) }
        // Ticks come from metrics.jsonl values: a step that is not positive (ticks that rounding made equal) gets 6 decimals.
        let decimals = step > 0 ? min(6, max(0, Int(ceil(-log10(step))))) : 6
        if a < 1e-3 { return String(format: "%.1e", v) }
        return String(format: "%.\(decimals)f", v)
    }

    /// Keeps at most `maxPoints` points, evenly spaced in index, always keeping the last.
    public static func thin(_ points: [(x: Double, y: Double)], maxPoints: Int) -> [(x: Double, y: Double)] {
        guard points.count > maxPoints, maxPoints >= 2 else { return points }
        var out = [(x: Double, y: Double)]()
        out.reserveCapacity(maxPoints)
        let stride = Double(points.count - 1) / Double(maxPoints - 1)
        for i in 0..<maxPoints { out.append(points[min(points.count - 1, Int((Double(i) * stride).rounded()))]) }
        return out
    }

    /// One chart. `yRange` fixes the y axis (e.g. 0...1 for accuracies); otherwise it covers the data.
    public static func render(title: String, xLabel: String, yLabel: String, series: [ChartSeries],
                              yRange: ClosedRange<Double>? = nil, width: Int = 400, height: Int = 240,
                              maxPoints: Int = 400) -> String {
        let all = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        let left = 56.0, right = 22.0, top = 40.0, bottom = 38.0
        let plotW = Double(width) - left - right, plotH = Double(height) - top - bottom
        var s = "<svg class=\"chart\" data-title=\"\(HTML.escape(title))\" data-series=\"\(series.count)\" width=\"\(width)\" height=\"\(height)\" viewBox=\"0 0 \(width) \(height)\" role=\"img\">"
        s += "<title>\(HTML.escape(title))</title>"
        s += "<text class=\"ct\" x=\"\(Int(left))\" y=\"16\">\(HTML.escape(title))</text>"
        guard !all.isEmpty else {
            s += "<text class=\"cl\" x=\"\(width / 2)\" y=\"\(height / 2)\" text-anchor=\"middle\">no data</text></svg>"
            return s
        }
        let xs = all.map(\.x), ys = all.map(\.y)
        let xTicks = niceTicks(low: xs.min()!, high: xs.max()!)
        let yTicks: [Double]
        if let yRange {
            yTicks = niceTicks(low: min(yRange.lowerBound, ys.min()!), high: max(yRange.upperBound, ys.max()!))
        } else {
            yTicks = niceTicks(low: ys.min()!, high: ys.max()!)
        }
        let x0 = xTicks.first ?? 0, x1 = max(xTicks.last ?? 1, x0 + 1e-9)
        let y0 = yTicks.first ?? 0, y1 = max(yTicks.last ?? 1, y0 + 1e-9)
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * plotW }
        func py(_ y: Double) -> Double { top + plotH - (y - y0) / (y1 - y0) * plotH }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }

        // Grid lines and tick labels.
        let xStep = xTicks.count > 1 ? xTicks[1] - xTicks[0] : 1
        let yStep = yTicks.count > 1 ? yTicks[1] - yTicks[0] : 1
        var gridPath = ""
        for t in yTicks { gridPath += "M\(f(left)) \(f(py(t)))H\(f(left + plotW))" }
        for t in xTicks { gridPath += "M\(f(px(t))) \(f(top))V\(f(top + plotH))" }
        s += "<path class=\"cg\" d=\"\(gridPath)\"/>"
        s += "<path class=\"ca\" d=\"M\(f(left)) \(f(top))V\(f(top + plotH))H\(f(left + plotW))\"/>"
        for t in yTicks {
            s += "<text class=\"cl\" x=\"\(f(left - 5))\" y=\"\(f(py(t) + 4))\" text-anchor=\"end\">\(tickLabel(t, step: yStep))</text>"
        }
        for t in xTicks {
            s += "<text class=\"cl\" x=\"\(f(px(t)))\" y=\"\(f(top + plotH + 15))\" text-anchor=\"middle\">\(tickLabel(t, step: xStep))</text>"
        }
        s += "<text class=\"cl\" x=\"\(f(left + plotW / 2))\" y=\"\(height - 4)\" text-anchor=\"middle\">\(HTML.escape(xLabel))</text>"
        s += "<text class=\"cl\" transform=\"translate(13 \(f(top + plotH / 2))) rotate(-90)\" text-anchor=\"middle\">\(HTML.escape(yLabel))</text>"

        // Series and legend.
        for (i, one) in series.enumerated() {
            let colour = colours[i % colours.count]
            let points = thin(one.points.filter { $0.x.isFinite && $0.y.isFinite }, maxPoints: maxPoints)
            guard !points.isEmpty else { continue }
            if points.count == 1 {
                s += "<circle cx=\"\(f(px(points[0].x)))\" cy=\"\(f(py(points[0].y)))\" r=\"3\" fill=\"\(colour)\"/>"
            } else {
                var d = ""
                for (k, p) in points.enumerated() { d += (k == 0 ? "M" : "L") + "\(f(px(p.x))) \(f(py(p.y)))" }
                s += "<path class=\"cs\" data-points=\"\(points.count)\" stroke=\"\(colour)\" d=\"\(d)\"/>"
            }
            if series.count > 1 {
                // Legend in the band between the title and the plot, left to right.
                let lx = left + Double(i) * 150, ly = 30.0
                s += "<path stroke=\"\(colour)\" class=\"cs\" d=\"M\(f(lx)) \(f(ly))h16\"/>"
                s += "<text class=\"cl\" x=\"\(f(lx + 20))\" y=\"\(f(ly + 4))\">\(HTML.escape(one.name))</text>"
            }
        }
        return s + "</svg>"
    }

    public static var css: String {
        """
        svg.chart{background:#fff;border:1px solid #ddd;border-radius:4px}
        svg.chart .cg{stroke:#eee;stroke-width:1;fill:none}
        svg.chart .ca{stroke:#666;stroke-width:1;fill:none}
        svg.chart .cs{fill:none;stroke-width:1.6;stroke-linejoin:round}
        svg.chart .ct{font:600 13px system-ui,sans-serif;fill:#222}
        svg.chart .cl{font:11px system-ui,sans-serif;fill:#444}

        """
    }
}
