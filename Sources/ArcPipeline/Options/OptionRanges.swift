// The allowed range of every numeric option, and the checks `validate()` runs with them: each
// failure is one `ValidationError` naming the option, the value and the range, raised before a
// command touches the disk. Floating-point options must be finite (a NaN or an infinity would
// reach the JSON of config.json or an Int conversion).
import ArgumentParser
import Foundation

enum OptionRanges {
    /// Worker threads: at most 256 (more threads than that only add memory and switching; each
    /// build-dataset worker holds task buffers).
    static let threads = 1...256
    /// Seeds are recorded as JSON integers (config.json, build_info.json): 0...Int64.max.
    static let seed: ClosedRange<UInt64> = 0...UInt64(Int64.max)
    /// Batch sizes (training and evaluation); the paper's is 768.
    static let batchSize = 1...4096
    /// Augmentations per task; the paper uses 1000.
    static let numAug = 1...10_000
    static let canvas = 1...30
    static let maxTasks = 1...1_000_000
    /// Step counts and intervals.
    static let steps = 1...1_000_000_000
    static let warmupSteps = 0...1_000_000_000
    /// Epochs over the groups (the paper trains ARC for 100,000).
    static let epochs = 0.0...10_000_000.0
    /// Learning rates and decays.
    static let learningRate = 0.0...1.0
    static let weightDecay = 0.0...10.0
    static let fraction = 0.0...1.0
    /// The weight EMA's mu (1 would never move).
    static let emaRate = 0.0...0.9999
    /// Time budget in seconds: up to 365 days.
    static let timeBudgetSeconds = 0.0...(365.0 * 86_400)
    /// Model shape.
    static let hiddenSize = 2...4096
    static let heads = 1...256
    static let layers = 1...64
    static let cycles = 1...64
    static let haltMaxSteps = 1...256
    static let expansion = 0.5...16.0
    static let puzzleEmbeddingWidth = 0...4096
    /// Dense parameters of a model (the paper's has 27M): above this it would not fit in memory.
    static let maxParameters = 1 << 30
    static let retries = 1...100

    static func check(_ name: String, _ value: Int?, in range: ClosedRange<Int>) throws {
        guard let value, !range.contains(value) else { return }
        throw ValidationError("\(name) must be in \(range.lowerBound)...\(range.upperBound) (got \(value))")
    }

    static func check(_ name: String, _ value: UInt64, in range: ClosedRange<UInt64>) throws {
        guard !range.contains(value) else { return }
        throw ValidationError("\(name) must be in \(range.lowerBound)...\(range.upperBound) (got \(value))")
    }

    /// A finite value in `range`; `aboveLowerBound` excludes the lower bound itself.
    static func check(_ name: String, _ value: Double?, in range: ClosedRange<Double>, aboveLowerBound: Bool = false) throws {
        guard let value else { return }
        let inRange = value.isFinite && range.contains(value) && !(aboveLowerBound && value == range.lowerBound)
        guard !inRange else { return }
        let allowed = aboveLowerBound ? "a number in (\(text(range.lowerBound)), \(text(range.upperBound))]"
                                      : "a number in [\(text(range.lowerBound)), \(text(range.upperBound))]"
        throw ValidationError("\(name) must be \(allowed) (got \(value))")
    }

    static func text(_ value: Double) -> String {
        value == value.rounded() && abs(value) < 1e15 ? String(Int(value)) : String(value)
    }
}
