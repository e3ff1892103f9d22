// train-eval --train-sets: which training-role task sets the dataset holds beside the predicted
// tasks' demonstrations (docs/SPEC.md §3: training-role sets give every pair to the train split,
// evaluation-role sets their demonstrations). `none` is test-time training only: the model trains on
// the demonstrations of the tasks it predicts (with their augmentations) and nothing else.
import ARCAugment
import ArgumentParser

struct TrainSets: Equatable {
    /// The training-role source labels (empty: test-time training only).
    var labels: [String]

    /// The sources a list may name (folder paths are build-dataset's; train-eval names its
    /// datasets after the sets).
    static let labels = DatasetInputs.knownLabels.filter { $0 != "kaggle:test" }

    static func parse(_ text: String) throws -> TrainSets {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        if trimmed == "none" { return TrainSets(labels: []) }
        let items = trimmed.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
        var seen = Set<String>()
        for item in items {
            guard labels.contains(item) else {
                throw ValidationError("--train-sets \(text): \(item.isEmpty ? "an empty name" : "'\(item)'") is not a training set; "
                                      + "use none or a comma-separated list of \(labels.joined(separator: ", "))")
            }
            guard seen.insert(item).inserted else { throw ValidationError("--train-sets \(text): '\(item)' is named twice") }
        }
        return TrainSets(labels: items)
    }

    /// The dataset folder name's part: -ttt for none, else -t and the sets (e.g. -tconcept-arc+arc-agi-1_training).
    var nameSuffix: String {
        labels.isEmpty ? "-ttt" : "-t" + labels.map { $0.replacingOccurrences(of: ":", with: "_") }.joined(separator: "+")
    }
}
