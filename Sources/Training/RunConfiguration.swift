// A run folder's config.json: the TrainingConfiguration (what is trained, train-eval's reuse
// key) and how the run was asked for (code version, the preset and the options given over it,
// the dataset folder, threads, matmul precision, parameter count, time). Every value is stored once. Written once
// when a fresh run starts (atomically), read directly by `train --resume` and train-eval (reuse),
// shown by the report, and read by the benchmark scripts (Tools/bench/learn_common.py). Run
// folders of earlier versions (flat keys beside "model" and "trainer", no "format") are read too.
import ARCCore
import Foundation
import HRM

public struct RunConfiguration: Codable, Equatable, Sendable {
    public static let fileName = "config.json"
    /// The `format` of the files this version writes.
    public static let currentFormat = "arc-pipeline-run-2"
    /// The `format` given to a file of the earlier layout when it is read (that layout has no key).
    public static let flatFormat = "arc-pipeline-run-1"

    public var format: String
    public var training: TrainingConfiguration
    public var codeVersion: String
    /// The model-and-trainer preset (`--preset`) and the options given over it ("none" if none).
    public var preset: String
    public var overrides: String
    /// The built dataset's folder.
    public var dataset: String
    public var threads: Int
    /// Dense parameters plus the puzzle table.
    public var parameters: Int
    /// The time training itself was given: train's --time-budget; for train-eval, what was left
    /// of the job's budget (training.timeBudgetSeconds) after the dataset and the evaluation.
    public var trainingTimeBudgetSeconds: Double?
    /// ISO 8601.
    public var createdAt: String
    /// The linear layers' matmul precision the run started with ("fp32", "bf16 (oneDNN)", "bf16
    /// (emulated)"; `--precision`); nil in files from before it was recorded.
    public var precision: String?

    public init(training: TrainingConfiguration, codeVersion: String, preset: String, overrides: String, dataset: String,
                threads: Int, parameters: Int, trainingTimeBudgetSeconds: Double?, createdAt: String, precision: String? = nil) {
        format = Self.currentFormat
        self.training = training
        self.codeVersion = codeVersion
        self.preset = preset
        self.overrides = overrides
        self.dataset = dataset
        self.threads = threads
        self.parameters = parameters
        self.trainingTimeBudgetSeconds = trainingTimeBudgetSeconds
        self.createdAt = createdAt
        self.precision = precision
    }

    public static func url(in runDirectory: URL) -> URL { runDirectory.appendingPathComponent(fileName) }

    /// Reads `runDirectory/config.json` (either layout); errors are one line naming the file.
    public static func read(runDirectory: URL) throws -> RunConfiguration {
        let url = url(in: runDirectory)
        guard let data = try? Data(contentsOf: url) else { throw ARCDataError(file: url.path, message: "missing: not a run folder") }
        do { return try JSONDecoder().decode(RunConfiguration.self, from: data) } catch {
            throw ARCDataError(file: url.path, message: "cannot be read: \(DecodingProblem.describe(error))")
        }
    }

    /// The file's bytes: compact JSON with sorted keys, one line.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self) + Data("\n".utf8)
    }

    /// Writes `runDirectory/config.json` atomically (temporary file, then rename).
    public func write(runDirectory: URL) throws {
        let url = Self.url(in: runDirectory)
        let data: Data
        do { data = try encoded() } catch let EncodingError.invalidValue(value, context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw ARCDataError(file: url.path, field: path, message: "cannot be written: \(value) is not a JSON value")
        }
        try AtomicFile.write(data, to: url)
    }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        guard c.contains(.format) else {
            self = try RunConfiguration(flat: decoder)
            return
        }
        format = try c.decode(String.self, forKey: .format)
        guard format == Self.currentFormat else {
            throw DecodingError.dataCorruptedError(forKey: .format, in: c,
                debugDescription: "is \"\(format)\"; this program reads \"\(Self.currentFormat)\" (and the earlier layout without \"format\")")
        }
        training = try c.decode(TrainingConfiguration.self, forKey: .training)
        codeVersion = try c.decode(String.self, forKey: .codeVersion)
        preset = try c.decode(String.self, forKey: .preset)
        overrides = try c.decode(String.self, forKey: .overrides)
        dataset = try c.decode(String.self, forKey: .dataset)
        threads = try c.decode(Int.self, forKey: .threads)
        parameters = try c.decode(Int.self, forKey: .parameters)
        trainingTimeBudgetSeconds = try c.decodeIfPresent(Double.self, forKey: .trainingTimeBudgetSeconds)
        createdAt = try c.decode(String.self, forKey: .createdAt)
        precision = try c.decodeIfPresent(String.self, forKey: .precision)
    }

    /// The earlier layout's keys (snake_case; "model" and "trainer" as here).
    private enum FlatKeys: String, CodingKey {
        case model, trainer, epochs, threads, preset, overrides, dataset, parameters
        case maxSteps = "max_steps", timeBudgetSeconds = "time_budget_seconds", datasetDigest = "dataset_digest"
        case codeVersion = "code_version", createdAt = "created_at"
    }

    /// The earlier layout: what the run needs is required; what only describes it may be missing.
    /// It did not record the logging and checkpoint intervals (the defaults stand in; they change
    /// no trained value, and `--resume` takes them from its options), and its time budget was
    /// training's own.
    private init(flat decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: FlatKeys.self)
        let timeBudget = try c.decodeIfPresent(Double.self, forKey: .timeBudgetSeconds)
        format = Self.flatFormat
        training = TrainingConfiguration(
            model: try c.decode(HRMConfig.self, forKey: .model), trainer: try c.decode(TrainerOptions.self, forKey: .trainer),
            epochs: try c.decode(Double.self, forKey: .epochs), maxSteps: try c.decode(Int.self, forKey: .maxSteps),
            timeBudgetSeconds: timeBudget, logInterval: TrainingConfiguration.defaultLogInterval,
            checkpointInterval: TrainingConfiguration.defaultCheckpointInterval,
            datasetDigest: try c.decode(String.self, forKey: .datasetDigest))
        codeVersion = try c.decodeIfPresent(String.self, forKey: .codeVersion) ?? "unknown"
        preset = try c.decodeIfPresent(String.self, forKey: .preset) ?? "unknown"
        overrides = try c.decodeIfPresent(String.self, forKey: .overrides) ?? "not recorded"
        dataset = try c.decodeIfPresent(String.self, forKey: .dataset) ?? "unknown"
        threads = try c.decodeIfPresent(Int.self, forKey: .threads) ?? 0
        parameters = try c.decodeIfPresent(Int.self, forKey: .parameters) ?? ParameterLayout(config: training.model).parameterCount
        trainingTimeBudgetSeconds = timeBudget
        createdAt = try c.decodeIfPresent(String.self, forKey: .createdAt) ?? "unknown"
    }
}
