// What a training run trains: the model (preset + overrides, sized for the dataset), the
// trainer's hyperparameters (seed, exploration, rates, the schedule's total steps), the
// stopping rule, the logging intervals and the dataset digest. A run folder's config.json holds
// it (RunConfiguration.swift), and it is train-eval's reuse key: a finished run is reused only
// when the canonical JSON of this struct (sorted keys) is the same, so every field, including
// any added later here, to HRMConfig or to TrainerOptions, is part of the key without a list to
// keep. Threads are not in it on purpose: they change the speed, not what is trained.
import Foundation
import HRM

public struct TrainingConfiguration: Codable, Equatable, Sendable {
    public var model: HRMConfig
    public var trainer: TrainerOptions
    /// Epochs over the groups (they set `trainer.totalSteps`).
    public var epochs: Double
    /// Training stops at this step.
    public var maxSteps: Int
    /// The time budget as asked for (train: training's; train-eval: the whole job's).
    public var timeBudgetSeconds: Double?
    public var logInterval: Int
    public var checkpointInterval: Int
    /// SHA-256 of the built dataset's metadata files.
    public var datasetDigest: String

    /// The defaults of `--log-interval` and `--checkpoint-interval`.
    public static let defaultLogInterval = 10
    public static let defaultCheckpointInterval = 100

    public init(model: HRMConfig, trainer: TrainerOptions, epochs: Double, maxSteps: Int, timeBudgetSeconds: Double?,
                logInterval: Int, checkpointInterval: Int, datasetDigest: String) {
        self.model = model
        self.trainer = trainer
        self.epochs = epochs
        self.maxSteps = maxSteps
        self.timeBudgetSeconds = timeBudgetSeconds
        self.logInterval = logInterval
        self.checkpointInterval = checkpointInterval
        self.datasetDigest = datasetDigest
    }

    /// UTF-8 JSON with sorted keys: the same configuration always gives the same bytes (train-eval
    /// names the run folder with the first digits of its SHA-256).
    public func canonicalJSON() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }

    /// train-eval's reuse decision: a run made with `stored` trains exactly what this configuration
    /// asks for (the same canonical JSON).
    public func isSameRun(as stored: TrainingConfiguration) throws -> Bool {
        try canonicalJSON() == stored.canonicalJSON()
    }
}
