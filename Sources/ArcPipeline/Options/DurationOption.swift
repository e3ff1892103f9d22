// Durations given on the command line (`--time-budget`): `90`, `90s`, `10m`, `1h30m`, `1.5h`.
// Strict: decimal numbers (digits with at most one point), each followed by h, m or s, or one
// bare number of seconds; no sign, exponent, `inf` or `nan`; the total must be finite.
import Foundation

enum DurationOption {
    /// Seconds, or nil when `text` is not such a duration.
    static func seconds(_ text: String) -> TimeInterval? {
        if isDecimal(text) { return Double(text).flatMap { $0.isFinite ? $0 : nil } }
        let units: [Character: Double] = ["h": 3600, "m": 60, "s": 1]
        var total = 0.0, number = ""
        for character in text {
            if isDigitOrPoint(character) { number.append(character); continue }
            guard isDecimal(number), let value = Double(number), let unit = units[character] else { return nil }
            total += value * unit
            number = ""
        }
        guard number.isEmpty, !text.isEmpty, total.isFinite else { return nil }
        return total
    }

    private static func isDigitOrPoint(_ c: Character) -> Bool { c == "." || ("0"..."9").contains(c) }

    private static func isDecimal(_ s: String) -> Bool {
        s.contains { ("0"..."9").contains($0) } && s.allSatisfy(isDigitOrPoint) && s.filter { $0 == "." }.count <= 1
    }
}
