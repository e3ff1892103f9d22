// The registry of ARC data sources (docs/SPEC.md §1): where each archive lives and how its
// content maps onto the normalised layout `arc-data/<source>/...`.
import Foundation

public struct DataSource: Sendable, Equatable {
    public enum Layout: Sendable, Equatable {
        /// Per-task JSON folders: (split name in arc-data, path inside the archive's top folder).
        case splits([(name: String, path: String)])
        /// A tree of per-task files (nested concept folders), copied whole as one split.
        case tree(path: String, split: String)
        /// Kaggle combined files `arc-agi_<split>_challenges.json` (+ solutions).
        case kaggle

        public static func == (a: Layout, b: Layout) -> Bool {
            switch (a, b) {
            case let (.splits(x), .splits(y)): return x.map { $0.name + $0.path } == y.map { $0.name + $0.path }
            case let (.tree(p1, s1), .tree(p2, s2)): return p1 == p2 && s1 == s2
            case (.kaggle, .kaggle): return true
            default: return false
            }
        }
    }

    public let name: String
    /// File name of the archive (as in the offline mirror).
    public let archiveName: String
    /// The real download location; nil when there is none (Kaggle needs a login).
    public let defaultURL: URL?
    public let layout: Layout
    public let summary: String

    public static let arcAGI1 = DataSource(
        name: "arc-agi-1", archiveName: "ARC-AGI-master.zip",
        defaultURL: URL(string: "https://github.com/fchollet/ARC-AGI/archive/refs/heads/master.zip"),
        layout: .splits([("training", "data/training"), ("evaluation", "data/evaluation")]),
        summary: "ARC-AGI-1 (fchollet/ARC-AGI): 400 training + 400 evaluation tasks")
    public static let arcAGI2 = DataSource(
        name: "arc-agi-2", archiveName: "ARC-AGI-2-main.zip",
        defaultURL: URL(string: "https://github.com/arcprize/ARC-AGI-2/archive/refs/heads/main.zip"),
        layout: .splits([("training", "data/training"), ("evaluation", "data/evaluation")]),
        summary: "ARC-AGI-2 (arcprize/ARC-AGI-2): 1000 training + 120 evaluation tasks")
    public static let conceptARC = DataSource(
        name: "concept-arc", archiveName: "ConceptARC-main.zip",
        defaultURL: URL(string: "https://github.com/victorvikram/ConceptARC/archive/refs/heads/main.zip"),
        layout: .tree(path: "corpus", split: "corpus"),
        summary: "ConceptARC (victorvikram/ConceptARC): 16 concepts x 10 tasks")
    public static let kaggle = DataSource(
        name: "kaggle", archiveName: "arc-prize-2025.zip", defaultURL: nil, layout: .kaggle,
        summary: "Kaggle ARC Prize 2025 layout (give the competition zip or folder with --kaggle-source)")

    public static let all: [DataSource] = [arcAGI1, arcAGI2, conceptARC, kaggle]

    public static func named(_ name: String) -> DataSource? { all.first { $0.name == name } }
}
