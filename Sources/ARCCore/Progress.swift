// Progress output for long work: a bar with rate and ETA on a terminal, plain periodic
// lines otherwise (logs, CI).
import Foundation

public final class ProgressReporter: @unchecked Sendable {
    public let label: String
    public let unit: Unit
    private let isTerminal: Bool
    private let start = Date()
    private var lastPrint = Date.distantPast
    private var finished = false
    private let quiet: Bool
    private let lock = NSLock()

    public enum Unit: Sendable { case bytes, items(String) }

    public init(label: String, unit: Unit = .bytes, quiet: Bool = false) {
        self.label = label
        self.unit = unit
        self.quiet = quiet
        isTerminal = isatty(STDERR_FILENO) != 0 && ProcessInfo.processInfo.environment["TERM"] != "dumb"
        // Plain logs get their first line after one interval, not a "0 done" line at once.
        if !isTerminal { lastPrint = start }
    }

    private func format(_ v: Double) -> String {
        switch unit {
        case .bytes:
            if v >= 1_073_741_824 { return String(format: "%.2f GiB", v / 1_073_741_824) }
            if v >= 1_048_576 { return String(format: "%.1f MiB", v / 1_048_576) }
            if v >= 1024 { return String(format: "%.1f KiB", v / 1024) }
            return String(format: "%.0f B", v)
        case let .items(name): return "\(Int(v)) \(name)"
        }
    }

    /// The done-part of "done/total": a bare number for items (the unit follows the total).
    private func count(_ v: Double) -> String {
        if case .items = unit { return String(Int(v)) }
        return format(v)
    }

    /// "h:mm:ss" or "mm:ss"; "--:--" for a time that is negative, not finite or above a century (an
    /// ETA from a server's Content-Length near Int64.max).
    static func duration(_ s: Double) -> String {
        guard s.isFinite, s >= 0, s <= 100 * 365 * 86_400 else { return "--:--" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%02d:%02d", t / 60, t % 60)
    }

    /// Reports `done` of `total` (total <= 0 when unknown). Rate-limited.
    public func update(done: Int64, total: Int64) {
        lock.lock(); defer { lock.unlock() }
        guard !quiet, !finished else { return }
        let now = Date()
        let interval = isTerminal ? 0.1 : 5.0
        guard now.timeIntervalSince(lastPrint) >= interval else { return }
        lastPrint = now
        let elapsed = max(now.timeIntervalSince(start), 1e-3)
        let rate = Double(done) / elapsed
        var line = "\(label): \(total > 0 ? count(Double(done)) : format(Double(done)))"
        if total > 0 {
            let frac = min(1, Double(done) / Double(total))
            let eta = rate > 0 ? Double(total - done) / rate : .infinity
            if isTerminal {
                let width = 24
                let filled = Int(frac * Double(width))
                line = "\(label) [\(String(repeating: "#", count: filled))\(String(repeating: ".", count: width - filled))] "
                    + "\(count(Double(done)))/\(format(Double(total))) \(String(format: "%3.0f%%", frac * 100)) "
                    + "\(format(rate))/s ETA \(Self.duration(eta))"
            } else {
                line += "/\(format(Double(total))) (\(String(format: "%.0f%%", frac * 100)), \(format(rate))/s, ETA \(Self.duration(eta)))"
            }
        } else {
            line += " (\(format(rate))/s)"
        }
        if isTerminal { FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8)) }
        else { FileHandle.standardError.write(Data((line + "\n").utf8)) }
    }

    /// Ends the bar (newline on a terminal).
    public func finish(_ message: String? = nil) {
        lock.lock(); defer { lock.unlock() }
        guard !quiet, !finished else { return }
        finished = true
        if isTerminal { FileHandle.standardError.write(Data("\r\u{1B}[K".utf8)) }
        if let message { FileHandle.standardError.write(Data((message + "\n").utf8)) }
    }
}
