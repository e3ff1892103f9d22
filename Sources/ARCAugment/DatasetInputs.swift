// Which task sets a dataset is built from, and in which role (HRM-SPEC §3 "split roles"):
// sources are named by label and read from the fetched layout (COMMON brief / DESIGN.md):
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

public struct DatasetPreset: Sendable {
    public var name: String
    public var training: [String]
    public var evaluation: [String]

    public static let names = ["arc1", "arc2", "kaggle"]

    /// `kaggleWithEvaluation` adds `kaggle:evaluation` to the kaggle preset's training sets.
    public static func named(_ name: String, kaggleWithEvaluation: Bool = false) -> DatasetPreset? {
        switch name {
        case "arc1": return DatasetPreset(name: name, training: ["arc-agi-1:training", "concept-arc"], evaluation: ["arc-agi-1:evaluation"])
        case "arc2": return DatasetPreset(name: name, training: ["arc-agi-2:training"], evaluation: ["arc-agi-2:evaluation"])
        case "kaggle":
            return DatasetPreset(name: name, training: ["kaggle:training"] + (kaggleWithEvaluation ? ["kaggle:evaluation"] : []),
                                 evaluation: ["kaggle:test"])
        default: return nil
        }
    }
}

public enum DatasetInputs {
    public static let knownLabels = ["arc-agi-1:training", "arc-agi-1:evaluation", "arc-agi-2:training", "arc-agi-2:evaluation",
                                     "concept-arc", "kaggle:training", "kaggle:evaluation", "kaggle:test"]

    /// Loads the task set a label names, from the fetched layout under `dataDirectory`.
    public static func load(label: String, dataDirectory: URL) throws -> TaskSet {
        func needFetch(_ url: URL, _ source: String) -> ARCDataError {
            ARCDataError(file: url.path, message: "not found; run `arc-pipeline fetch \(source)` first (or pass --data-dir)")
        }
        func folder(_ relative: String, source: String) throws -> TaskSet {
            let url = dataDirectory.appendingPathComponent(relative)
            guard FileManager.default.fileExists(atPath: url.path) else { throw needFetch(url, source) }
            return try loadFolder(url, name: label)
        }
        switch label {
        case "arc-agi-1:training": return try folder("arc-agi-1/training", source: "arc-agi-1")
        case "arc-agi-1:evaluation": return try folder("arc-agi-1/evaluation", source: "arc-agi-1")
        case "arc-agi-2:training": return try folder("arc-agi-2/training", source: "arc-agi-2")
        case "arc-agi-2:evaluation": return try folder("arc-agi-2/evaluation", source: "arc-agi-2")
        case "concept-arc": return try folder("concept-arc", source: "concept-arc")
        case "kaggle:training", "kaggle:evaluation", "kaggle:test":
            let dir = dataDirectory.appendingPathComponent("kaggle")
            let split = String(label.dropFirst("kaggle:".count))
            guard TaskLoader.kaggleFile(in: dir, split: split, kind: "challenges") != nil else {
                throw needFetch(dir.appendingPathComponent("arc-agi_\(split)_challenges.json"), "kaggle")
            }
            var set = try TaskLoader.loadKaggle(directory: dir, split: split, name: label)
            set.tasks.sort { $0.id < $1.id }
            return set
        default:
            if label.contains("/") { return try loadFolder(URL(fileURLWithPath: label), name: label) }
            throw ARCDataError(file: label, message: "unknown task source; use one of \(knownLabels.joined(separator: ", ")) or a folder path containing '/'")
        }
    }

    /// A folder of per-task files read recursively, without `manifest.json` files; tasks sorted by id.
    public static func loadFolder(_ directory: URL, name: String) throws -> TaskSet {
        let files = try TaskLoader.taskFiles(in: directory).filter { $0.lastPathComponent != "manifest.json" }
        var seen = [String: String]()
        var tasks = [ARCTask]()
        for file in files {
            let task = try TaskLoader.loadTaskFile(file)
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

    /// Loads `labels` (comma-separated lists allowed) in the given role.
    public static func load(labels: [String], role: SetRole, dataDirectory: URL) throws -> [RoledTaskSet] {
        try labels.flatMap { $0.split(separator: ",").map { String($0).trimmingCharacters(in: .whitespaces) } }
            .filter { !$0.isEmpty }
            .map { RoledTaskSet(set: try load(label: $0, dataDirectory: dataDirectory), role: role) }
    }
}
