// Loading a report's inputs from disk and writing the page: a submission folder (submission.json,
// predictions.jsonl, evaluation.json written by `train-eval`/`evaluate`), the challenges it answers
// (from evaluation.json or given), optional solutions, and the training run folder (config.json,
// metrics.jsonl). The page is written atomically (ARCCore.AtomicFile). Errors name the missing file.
import ARCCore
import Foundation
import Voting

/// Where the report's inputs are. Only `submissionDirectory` is required when it holds evaluation.json.
public struct ReportRequest: Sendable {
    /// Folder with submission.json (required), predictions.jsonl (optional), evaluation.json (optional).
    public var submissionDirectory: URL
    /// Training run folder (config.json, metrics.jsonl); default: evaluation.json's "run".
    public var runDirectory: URL?
    /// Challenges: a Kaggle-layout folder (with `split`), a folder of per-task files, or a challenges
    /// file; default: evaluation.json's "challenges".
    public var challenges: URL?
    public var split: String?
    /// Ground truth (Kaggle solutions file, challenges file with outputs, or task folder); default: the
    /// test outputs of the challenges when every test pair has one.
    public var solutions: URL?
    /// Output file; default: `<submissionDirectory>/report.html`.
    public var output: URL?
    public var title: String?
    public var note: String?

    public init(submissionDirectory: URL, runDirectory: URL? = nil, challenges: URL? = nil, split: String? = nil,
                solutions: URL? = nil, output: URL? = nil, title: String? = nil, note: String? = nil) {
        self.submissionDirectory = submissionDirectory
        self.runDirectory = runDirectory
        self.challenges = challenges
        self.split = split
        self.solutions = solutions
        self.output = output
        self.title = title
        self.note = note
    }

    public var outputURL: URL { output ?? submissionDirectory.appendingPathComponent("report.html") }
}

/// The contents of `evaluation.json` (written by `train-eval` / `evaluate`):
/// `{"challenges": {"format": "kaggle"|"directory", "path": "<folder>", "split": "<split>"|null},
///   "run": "<run folder>"|null, "scores": {...}|null}`.
public struct EvaluationRecord: Sendable {
    public var challengesFormat: String
    public var challengesPath: String
    public var split: String?
    public var run: String?
    /// The challenges' tasks the evaluated dataset holds (nil in older files: all).
    public var datasetTasks: Set<String>? = nil

    public static func load(from url: URL) throws -> EvaluationRecord {
        let json = try JSONFile.read(url)
        guard case .object = json else { throw ARCDataError(file: url.path, message: "is \(json.kindName), expected an object") }
        guard let challenges = json["challenges"], case .object = challenges else {
            throw ARCDataError(file: url.path, field: "challenges", message: "missing or not an object {\"format\", \"path\", \"split\"}")
        }
        guard case let .string(format)? = challenges["format"], format == "kaggle" || format == "directory" else {
            throw ARCDataError(file: url.path, field: "challenges.format", message: "missing or not \"kaggle\" or \"directory\"")
        }
        guard case let .string(path)? = challenges["path"] else {
            throw ARCDataError(file: url.path, field: "challenges.path", message: "missing or not a string")
        }
        var split: String? = nil
        switch challenges["split"] {
        case let .string(s)?: split = s
        case .null?, nil: split = nil
        case let other?: throw ARCDataError(file: url.path, field: "challenges.split", message: "is \(other.kindName), expected a string or null")
        }
        if format == "kaggle" && split == nil {
            throw ARCDataError(file: url.path, field: "challenges.split", message: "is null but format is \"kaggle\" (needs a split)")
        }
        var run: String? = nil
        switch json["run"] {
        case let .string(s)?: run = s
        case .null?, nil: run = nil
        case let other?: throw ARCDataError(file: url.path, field: "run", message: "is \(other.kindName), expected a string or null")
        }
        var datasetTasks: Set<String>? = nil
        switch json["dataset_tasks"] {
        case let .array(items)?:
            var ids = Set<String>()
            for (i, item) in items.enumerated() {
                guard case let .string(id) = item else {
                    throw ARCDataError(file: url.path, field: "dataset_tasks[\(i)]", message: "is \(item.kindName), expected a task id string")
                }
                ids.insert(id)
            }
            datasetTasks = ids
        case .null?, nil: datasetTasks = nil
        case let other?: throw ARCDataError(file: url.path, field: "dataset_tasks", message: "is \(other.kindName), expected an array of task ids")
        }
        return EvaluationRecord(challengesFormat: format, challengesPath: path, split: split, run: run, datasetTasks: datasetTasks)
    }
}

public enum ReportBuilder {
    /// Loads everything `request` names into a `ReportInput`.
    public static func load(_ request: ReportRequest) throws -> ReportInput {
        let fm = FileManager.default
        let dir = request.submissionDirectory
        var isDir: ObjCBool = false
        guard fm.fileExists(atPath: dir.path, isDirectory: &isDir), isDir.boolValue else {
            throw ARCDataError(file: dir.path, message: "no such submission folder")
        }
        var notices = [String]()

        // evaluation.json: where the challenges and the run are.
        let evaluationURL = dir.appendingPathComponent("evaluation.json")
        var record: EvaluationRecord? = nil
        if fm.fileExists(atPath: evaluationURL.path) {
            record = try EvaluationRecord.load(from: evaluationURL)
        } else if request.challenges == nil {
            throw ARCDataError(file: evaluationURL.path, message: "no such file; give the challenges with --challenges PATH [--split NAME]")
        }

        // A relative path in evaluation.json: as written (relative to the working folder), else beside it.
        func resolve(_ path: String) -> URL {
            if path.hasPrefix("/") || fm.fileExists(atPath: path) { return URL(fileURLWithPath: path) }
            let beside = dir.appendingPathComponent(path)
            return fm.fileExists(atPath: beside.path) ? beside : URL(fileURLWithPath: path)
        }

        // Challenges.
        let challenges: TaskSet
        let challengesDescription: String
        if let url = request.challenges {
            (challenges, challengesDescription) = try loadChallenges(url, split: request.split)
        } else {
            let r = record!
            let url = resolve(r.challengesPath)
            if r.challengesFormat == "kaggle" {
                challenges = try TaskLoader.loadKaggle(directory: url, split: r.split!)
                challengesDescription = "\(url.path) (Kaggle layout, split \(r.split!))"
            } else {
                challenges = try TaskLoader.loadDirectory(url, name: url.lastPathComponent)
                if challenges.tasks.isEmpty { throw ARCDataError(file: url.path, message: "folder has no task files (*.json)") }
                challengesDescription = "\(url.path) (per-task files)"
            }
        }

        // Submission and candidate table.
        let submissionURL = dir.appendingPathComponent("submission.json")
        guard fm.fileExists(atPath: submissionURL.path) else {
            throw ARCDataError(file: submissionURL.path, message: "no such file (the submission folder must hold the submission.json written by train-eval or evaluate)")
        }
        let submission = try Submission.load(from: submissionURL)
        let predictionsURL = dir.appendingPathComponent("predictions.jsonl")
        var table: CandidateTable? = nil
        if fm.fileExists(atPath: predictionsURL.path) {
            table = try CandidateTable.load(from: predictionsURL)
        } else {
            notices.append("\(predictionsURL.path) not found: vote counts and candidates are not shown.")
        }

        // Ground truth.
        var solutions: SolutionSet? = nil
        if let url = request.solutions {
            solutions = try SolutionSet.load(from: url)
        } else if challenges.tasks.allSatisfy(\.hasSolutions) {
            solutions = try SolutionSet(tasks: challenges, source: challengesDescription)
        } else {
            notices.append("The test outputs of these challenges are not (all) known: no scores; the truth is drawn where known.")
        }

        // Run folder.
        var runURL = request.runDirectory
        if runURL == nil, let run = record?.run { runURL = resolve(run) }
        var config: RunConfig? = nil
        var metrics: MetricsLog? = nil
        if let runURL {
            if !(fm.fileExists(atPath: runURL.path, isDirectory: &isDir) && isDir.boolValue) {
                if request.runDirectory != nil { throw ARCDataError(file: runURL.path, message: "no such run folder") }
                notices.append("Run folder \(runURL.path) (from evaluation.json) not found: no hyperparameters or training curves.")
            } else {
                let configURL = runURL.appendingPathComponent("config.json")
                if fm.fileExists(atPath: configURL.path) { config = try RunConfig.load(from: configURL) } else {
                    notices.append("\(configURL.path) not found: no hyperparameters.")
                }
                let metricsURL = runURL.appendingPathComponent("metrics.jsonl")
                if fm.fileExists(atPath: metricsURL.path) { metrics = try MetricsLog.load(from: metricsURL) } else {
                    notices.append("\(metricsURL.path) not found: no training curves.")
                }
            }
        }
        let name = dir.standardizedFileURL.lastPathComponent
        var input = ReportInput(title: request.title ?? "arc-pipeline report: \(name)", note: request.note, challenges: challenges,
                           challengesDescription: challengesDescription, submission: submission,
                           submissionFile: submissionURL.path, candidates: table, solutions: solutions,
                           runDescription: runURL?.path, config: config, metrics: metrics, notices: notices)
        // The evaluated dataset's tasks lead, unless other challenges were named for this page.
        if request.challenges == nil, let focus = record?.datasetTasks, !focus.isEmpty { input.focusTasks = focus }
        return input
    }

    /// Challenges from a path: a Kaggle-layout folder (needs `split`), a folder of task files, or a file.
    public static func loadChallenges(_ url: URL, split: String?) throws -> (TaskSet, String) {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw ARCDataError(file: url.path, message: "no such file or folder (--challenges)")
        }
        if isDir.boolValue {
            if let split {
                return (try TaskLoader.loadKaggle(directory: url, split: split), "\(url.path) (Kaggle layout, split \(split))")
            }
            let set = try TaskLoader.loadDirectory(url, name: url.lastPathComponent)
            if set.tasks.isEmpty {
                throw ARCDataError(file: url.path, message: "folder has no task files (*.json); for a Kaggle-layout folder give --split")
            }
            return (set, "\(url.path) (per-task files)")
        }
        if split != nil {
            throw ARCDataError(file: url.path, message: "is a file; --split applies to a Kaggle-layout folder")
        }
        return (try SubmissionScorer.loadChallenges(from: url), "\(url.path) (challenges file)")
    }

    /// Renders the page for `request` and writes it atomically; returns the file written.
    @discardableResult
    public static func write(_ request: ReportRequest) throws -> URL {
        let input = try load(request)
        let html = try HTMLReport.render(input)
        let out = request.outputURL
        try AtomicFile.write(html, to: out)  // failures are one line naming the file
        return out
    }

    /// For `train-eval`: the page for a submission folder it has just written (with evaluation.json),
    /// at `<submissionDirectory>/report.html`. Returns the file written.
    @discardableResult
    public static func writeReport(submissionDirectory: URL, runDirectory: URL? = nil) throws -> URL {
        try write(ReportRequest(submissionDirectory: submissionDirectory, runDirectory: runDirectory))
    }
}
