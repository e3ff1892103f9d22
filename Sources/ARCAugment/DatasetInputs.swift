// Which task sets a dataset is built from, and in which role (docs/SPEC.md §3 "split roles"):
// sources are named by label and read from the fetched layout (docs/DESIGN.md "Formats"):
//   arc-agi-1:training   <data>/arc-agi-1/training/*.json      arc-agi-1:evaluation
//   arc-agi-2:training   <data>/arc-agi-2/training/*.json      arc-agi-2:evaluation
//   concept-arc          <data>/concept-arc/<Concept>/<Name>.json (manifest.json excluded)
//   kaggle:training      <data>/kaggle/arc-agi_training_challenges.json (+ _solutions.json)
//   kaggle:evaluation    kaggle:test (test challenges; solutions only if a solutions file exists)
//   anything with a '/'  a folder of per-task JSON files (read recursively)
// Presets: arc1 (ARC-AGI-1 training + ConceptARC; eval ARC-AGI-1 evaluation), arc2 (ARC-AGI-2
// training; eval ARC-AGI-2 evaluation), kaggle (Kaggle training; eval the test challenges, whose
// demonstrations thereby join the train split; Kaggle evaluation joins training only on request
// because the public test file repeats it).
import ARCCore
import Foundation

public enum SetRole: String, Sendable {
    /// All pairs go to the train split.
    case training
    /// Demonstrations go to the train split, test pairs to the test split.
    case evaluation
}

public struct RoledTaskSet: Sendable {
    public var set: TaskSet
    public var role: SetRole
    public init(set: TaskSet, role: SetRole) {
        self.set = set
        self.role = role
    }
}

/// The dataset presets by name (build-dataset --preset, train-eval --dataset).
public enum DatasetPresetName: String, CaseIterable, Sendable, CustomStringConvertible {
    case arc1, arc2, kaggle
    public var description: String { rawValue }
}

public struct DatasetPreset: Sendable {
    public var name: String
    public var training: [String]
    public var evaluation: [String]

    public static var names: [String] { DatasetPresetName.allCases.map(\.rawValue) }

    /// `kaggleWithEvaluation` adds `kaggle:evaluation` to the kaggle preset's training sets.
    public static func named(_ name: String, kaggleWithEvaluation: Bool = false) -> DatasetPreset? {
        DatasetPresetName(rawValue: name).map { preset($0, kaggleWithEvaluation: kaggleWithEvaluation) }
    }

    public static func preset(_ preset: DatasetPresetName, kaggleWithEvaluation: Bool = false) -> DatasetPreset {
        switch preset {
        case .arc1: return DatasetPreset(name: preset.rawValue, training: ["arc-agi-1:training", "concept-arc"], evaluation: ["arc-agi-1:evaluation"])
        case .arc2: return DatasetPreset(name: preset.rawValue, training: ["arc-agi-2:training"], evaluation: ["arc-agi-2:evaluation"])
        case .kaggle:
            return DatasetPreset(name: preset.rawValue, training: ["kaggle:training"] + (kaggleWithEvaluation ? ["kaggle:evaluation"] : []),
                                 evaluation: ["kaggle:test"])
        }
    }
}

public enum DatasetInputs {
    public static let knownLabels = ["arc-agi-1:training", "arc-agi-1:evaluation", "arc-agi-2:training", "arc-agi-2:evaluation",
                                     "concept-arc", "kaggle:training", "kaggle:evaluation", "kaggle:test"]

    /// Where a label's tasks live in the fetched layout: a folder of per-task files, or the
    /// Kaggle folder and one of its splits; `source` is what `arc-pipeline fetch` needs.
    public enum Location: Sendable, Equatable {
        case folder(URL, source: String?)
        case kaggle(URL, split: String)
    }

    public static func location(label: String, dataDirectory: URL) throws -> Location {
        let folders = ["arc-agi-1:training": ("arc-agi-1/training", "arc-agi-1"), "arc-agi-1:evaluation": ("arc-agi-1/evaluation", "arc-agi-1"),
                       "arc-agi-2:training": ("arc-agi-2/training", "arc-agi-2"), "arc-agi-2:evaluation": ("arc-agi-2/evaluation", "arc-agi-2"),
                       "concept-arc": ("concept-arc", "concept-arc")]
        if let (relative, source) = folders[label] { return .folder(dataDirectory.appendingPathComponent(relative), source: source) }
        if ["kaggle:training", "kaggle:evaluation", "kaggle:test"].contains(label) {
            return .kaggle(dataDirectory.appendingPathComponent("kaggle"), split: String(label.dropFirst("kaggle:".count)))
        }
        if label.contains("/") { return .folder(URL(fileURLWithPath: label), source: nil) }
        throw ARCDataError(file: label, message: "unknown task source; use one of \(knownLabels.joined(separator: ", ")) or a folder path containing '/'")
    }

    /// Loads the task set a label names, from the fetched layout under `dataDirectory`.
    public static func load(label: String, dataDirectory: URL) throws -> TaskSet {
        func needFetch(_ url: URL, _ source: String) -> ARCDataError {
            ARCDataError(file: url.path, message: "not found; run `arc-pipeline fetch \(source)` first (or pass --data-dir)")
        }
        switch try location(label: label, dataDirectory: dataDirectory) {
        case let .folder(url, source):
            if let source, !FileManager.default.fileExists(atPath: url.path) { throw needFetch(url, source) }
            return try loadFolder(url, name: label)
        case let .kaggle(dir, split):
            guard TaskLoader.kaggleFile(in: dir, split: split, kind: "challenges") != nil else {
                throw needFetch(dir.appendingPathComponent("arc-agi_\(split)_challenges.json"), "kaggle")
            }
            var set = try TaskLoader.loadKaggle(directory: dir, split: split, name: label)
            try checkTaskIds(set.tasks, file: TaskLoader.kaggleFile(in: dir, split: split, kind: "challenges")?.path ?? dir.path)
            set.tasks.sort { $0.id < $1.id }
            return set
        }
    }

    /// A folder of per-task files read recursively, without `manifest.json` files; tasks sorted by id.
    public static func loadFolder(_ directory: URL, name: String) throws -> TaskSet {
        let files = try TaskLoader.taskFiles(in: directory).filter { $0.lastPathComponent != "manifest.json" }
        var seen = [String: String]()
        var tasks = [ARCTask]()
        for file in files {
            let task = try TaskLoader.loadTaskFile(file)
            try checkTaskIds([task], file: file.path)
            if let other = seen[task.id] {
                throw ARCDataError(file: file.path, task: task.id, message: "duplicate task id (also in \(other))")
            }
            seen[task.id] = file.path
            tasks.append(task)
        }
        if tasks.isEmpty { throw ARCDataError(file: directory.path, message: "no task files (*.json) found") }
        tasks.sort { $0.id < $1.id }
        return TaskSet(name: name, tasks: tasks)
    }

    /// Refuses a task id that reads as an augmented puzzle name (`<task>_t<tid>_<map>`, docs/SPEC.md §3):
    /// the dataset would name the task's original puzzle with its bare id, and voting, which takes the
    /// task and the augmentation to undo from that name, would count its predictions for another task.
    public static func checkTaskIds(_ tasks: [ARCTask], file: String) throws {
        for task in tasks where Augmentation.isAugmentedName(task.id) {
            let (other, augmentation) = Augmentation.parse(puzzleName: task.id)
            throw ARCDataError(file: file, task: task.id, message: "the id reads as an augmented puzzle of task \(JSONWriter.quoted(other)) "
                               + "(dihedral \(augmentation.dihedral), colours \(augmentation.colours.digits)); a task id must not end in "
                               + "_t<0-7>_<10-digit colour map that keeps colour 0>: rename the task")
        }
    }

    /// Loads `labels` (comma-separated lists allowed) in the given role.
    public static func load(labels: [String], role: SetRole, dataDirectory: URL) throws -> [RoledTaskSet] {
        try labels.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
            .filter { !$0.isEmpty }
            .map { RoledTaskSet(set: try load(label: $0, dataDirectory: dataDirectory), role: role) }
    }
}
