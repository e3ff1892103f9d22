// The `--canvas` option of build-dataset and train-eval: `30` (the reference), one side N in
// 1...30 (a single smaller canvas; tasks that do not fit are left out), `auto`, or an ascending
// comma list of sides 2...30 (bucket mode, docs/DESIGN.md "Canvas buckets": each task goes to the
// smallest side that holds it; token positions stay those of the 30 x 30 board).
import ARCAugment
import ArgumentParser

/// The commands parse it with `transform: { try CanvasChoice.parse($0) }`, so that a bad value
/// gives one error line naming `--canvas` and the allowed values.
enum CanvasChoice: Equatable, Sendable, ExpressibleByArgument, CustomStringConvertible {
    /// One canvas x canvas set per split (30 = the reference).
    case single(Int)
    /// Bucket mode; `auto` records that the list was `--canvas auto`.
    case buckets([Int], auto: Bool)

    static let reference = CanvasChoice.single(30)

    static let allowed = "a side 1...30, auto (= \(CanvasBuckets.auto.map(String.init).joined(separator: ","))) "
        + "or an ascending comma list of sides 2...30 such as 10,15,20,30"

    /// Parses the option's text; the error names `--canvas` and what is allowed.
    static func parse(_ text: String) throws -> CanvasChoice {
        func fail(_ why: String) -> ValidationError {
            ValidationError("--canvas must be \(allowed) (got '\(text.prefix(60))': \(why))")
        }
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "auto" { return .buckets(CanvasBuckets.auto, auto: true) }
        guard !trimmed.isEmpty else { throw fail("empty") }
        let items = trimmed.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var sides = [Int]()
        for item in items {
            guard !item.isEmpty else { throw fail("an empty item") }
            guard item.allSatisfy({ $0.isASCII && $0.isNumber }), item.count <= 4, let side = Int(item) else {
                throw fail("'\(item.prefix(20))' is not a side")
            }
            sides.append(side)
        }
        if sides.count == 1 {
            guard OptionRanges.canvas.contains(sides[0]) else { throw fail("outside 1...30") }
            return .single(sides[0])
        }
        do { try CanvasBuckets.validate(sides) } catch { throw fail("\(error)") }
        return .buckets(sides, auto: false)
    }

    init?(argument: String) {
        guard let value = try? Self.parse(argument) else { return nil }
        self = value
    }

    var description: String {
        switch self {
        case let .single(side): return String(side)
        case let .buckets(sides, auto): return auto ? "auto" : sides.map(String.init).joined(separator: ",")
        }
    }

    var defaultValueDescription: String { description }

    /// The dataset name suffix: "" for 30, "-c12", "-cauto", "-c10-15-20-30".
    var nameSuffix: String {
        switch self {
        case .single(30): return ""
        case let .single(side): return "-c\(side)"
        case let .buckets(sides, auto): return auto ? "-cauto" : "-c" + sides.map(String.init).joined(separator: "-")
        }
    }

    /// Sets the builder's canvas fields.
    func apply(to options: inout DatasetBuildOptions) {
        switch self {
        case let .single(side):
            options.canvas = side
            options.canvasBuckets = nil
        case let .buckets(sides, _):
            options.canvas = CanvasBuckets.board
            options.canvasBuckets = sides
        }
    }

    /// The help text both commands show.
    static let help = ArgumentHelp(
        "Canvas: 30 (the reference), a side N 1...30 (tasks that do not fit are left out), or bucket mode: auto "
            + "(= \(CanvasBuckets.auto.map(String.init).joined(separator: ",")), measured on ARC-AGI-1/2 and Kaggle: ~0.4 of the tokens "
            + "and ~0.25 of the attention cost of 30 only) or an ascending list of sides 2...30 such as 10,15,20,30; each task "
            + "goes to the smallest side that holds it, positions stay those of the 30x30 board.",
        valueName: "canvas")
}
