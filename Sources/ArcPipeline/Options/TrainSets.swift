// train-eval --train-sets: which training-role task sets the dataset holds beside the predicted
// tasks' demonstrations (docs/SPEC.md §3: training-role sets give every pair to the train split,
// evaluation-role sets their demonstrations). The default, `none`, is test-time training only: the
// model trains on the demonstrations of the tasks it predicts (with their augmentations) and
// nothing else, which solved more development-set tasks in a CPU budget than adding a training set
// (README "What a CPU budget buys"). `preset` takes the dataset preset's training sets.
import ARCAugment
import ArgumentParser

enum TrainSets: Equatable {
    case none
    case preset
    case sets([String])

    /// The sources a list may name (folder paths are build-dataset's; train-eval names its
    /// datasets after the sets).
    static let labels = DatasetInputs.knownLabels.filter { $0 != "kaggle:test" }

    static let help = """
        Training-role sets trained on beside the predicted tasks' demonstrations: none (the default: test-time \\
        training only, the predicted tasks' demonstrations and their augmentations), preset (the dataset preset's \\
        training sets), or a comma-separated list of \(labels.joined(separator: ", ")).
        """

    static func parse(_ text: String) throws -> TrainSets {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "none" { return .none }
        if trimmed == "preset" { return .preset }
        let items = trimmed.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var seen = Set<String>()
        for item in items {
            guard labels.contains(item) else {
                throw ValidationError("--train-sets \(text): \(item.isEmpty ? "an empty name" : "'\(item)'") is not a training set; "
                                      + "use none, preset or a comma-separated list of \(labels.joined(separator: ", "))")
            }
            guard seen.insert(item).inserted else { throw ValidationError("--train-sets \(text): '\(item)' is named twice") }
        }
        return .sets(items)
    }

    /// The training-role source labels for a dataset preset (empty: test-time training only).
    func labels(preset: DatasetPreset) -> [String] {
        switch self {
        case .none: return []
        case .preset: return preset.training
        case let .sets(labels): return labels
        }
    }

    /// The dataset folder name's part: none for the default, -tpreset, or -t and the sets
    /// (e.g. -tconcept-arc+arc-agi-1_training).
    var nameSuffix: String {
        switch self {
        case .none: return ""
        case .preset: return "-tpreset"
        case let .sets(labels): return "-t" + labels.map { $0.replacingOccurrences(of: ":", with: "_") }.joined(separator: "+")
        }
    }
}
