// The resolved configuration of a fresh training run: the model (preset + overrides, sized for
// the dataset), the trainer's hyperparameters (seed, exploration, and the schedule's total steps
// from --epochs), the stopping rule, the logging intervals and the dataset digest. TrainStage
// trains with these values, and train-eval reuses a finished run only when the SHA-256 of this
// struct's canonical JSON (sorted keys) is the same, so every field, including any added later to
// HRMConfig or TrainerOptions, is part of the reuse key. Threads are left out on purpose: they
// change the speed, not what is trained.
import ARCAugment
import ARCCore
import ARCFetch
import Foundation
import HRM
import Training

struct TrainingConfiguration: Codable, Equatable {
    var model: HRMConfig
    var trainer: TrainerOptions
    var epochs: Double
    var maxSteps: Int
    var timeBudgetSeconds: Double?
    var logInterval: Int
    var checkpointInterval: Int
    var datasetDigest: String

    /// `metadata` is the train split's dataset.json (at `metadataFile`, named in errors).
    static func resolve(model: ModelOptions, trainer: TrainerArguments, run: RunArguments, metadata: BuiltDatasetMetadata,
                        metadataFile: URL, datasetDigest: String) throws -> TrainingConfiguration {
        var config = try model.config(seqLen: metadata.seqLen, numPuzzleIdentifiers: metadata.numPuzzleIdentifiers - 1, vocabSize: metadata.vocabSize)
        var options = trainer.options(preset: model.preset, haltMaxSteps: config.haltMaxSteps, seed: run.seed)
        config.batchSize = options.batchSize
        config.haltExplorationProbability = options.explorationProbability
        // The schedule's length: epochs x (groups x mean examples per puzzle) / batch.
        let perEpoch = Double(metadata.totalGroups) * metadata.meanPuzzleExamples / Double(options.batchSize)
        let total = (trainer.epochs * perEpoch).rounded(.down)
        guard total.isFinite, total >= 0, total <= Double(OptionRanges.steps.upperBound) else {
            throw ARCDataError(file: metadataFile.path, field: "total_groups/mean_puzzle_examples",
                               message: "--epochs \(trainer.epochs) x \(metadata.totalGroups) groups x \(metadata.meanPuzzleExamples) examples "
                                   + "/ batch \(options.batchSize) is \(total) steps, outside 0...\(OptionRanges.steps.upperBound); lower --epochs")
        }
        options.totalSteps = max(1, Int(total))
        return TrainingConfiguration(model: config, trainer: options, epochs: trainer.epochs, maxSteps: trainer.maxSteps ?? options.totalSteps,
                                     timeBudgetSeconds: run.timeBudgetSeconds, logInterval: trainer.logInterval,
                                     checkpointInterval: trainer.checkpointInterval, datasetDigest: datasetDigest)
    }

    /// UTF-8 JSON with sorted keys: the same configuration always gives the same bytes.
    func canonicalJSON() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        return try encoder.encode(self)
    }

    /// SHA-256 (hex) of the canonical JSON.
    func digest() throws -> String { SHA256Hasher.hexDigest(of: try canonicalJSON()) }
}
