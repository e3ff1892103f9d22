// The training configuration of a fresh run from the command line (Training's
// TrainingConfiguration: model, trainer, stopping rule, intervals, dataset digest): the preset
// with the options given over it, sized for the dataset, and the schedule's total steps from
// --epochs. TrainStage trains with it and writes it into config.json; train-eval names and reuses
// a run by its digest (the SHA-256 of its canonical JSON), so every field is part of the key.
import ARCAugment
import ARCCore
import ARCFetch
import ArgumentParser
import Foundation
import HRM
import Training

extension TrainingConfiguration {
    /// `metadata` is the train split's dataset.json (at `metadataFile`, named in errors).
    /// Without --epochs, `defaultEpochs` (train: 100; train-eval: the reference's 100000, capped at the
    /// most steps a run may have, so that its time budget is what stops training).
    static func resolve(model: ModelOptions, trainer: TrainerArguments, run: RunArguments, metadata: BuiltDatasetMetadata,
                        metadataFile: URL, datasetDigest: String, defaultEpochs: Double = 100) throws -> TrainingConfiguration {
        let config = try model.config(seqLen: metadata.seqLen, numPuzzleIdentifiers: metadata.numPuzzleIdentifiers - 1, vocabSize: metadata.vocabSize)
        var options = trainer.options(preset: model.preset, architecture: model.architecture, seed: run.seed)
        do { try config.validate(batchSize: options.batchSize) } catch {
            throw ValidationError("--batch-size \(options.batchSize) with this model: \(error)")
        }
        // The schedule's length: epochs x (groups x mean examples per puzzle) / batch.
        let perEpoch = Double(metadata.totalGroups) * metadata.meanPuzzleExamples / Double(options.batchSize)
        var epochs = trainer.epochs ?? defaultEpochs
        if trainer.epochs == nil, perEpoch > 0, epochs * perEpoch > Double(OptionRanges.steps.upperBound) {
            epochs = Double(OptionRanges.steps.upperBound) / perEpoch
        }
        let total = (epochs * perEpoch).rounded(.down)
        guard total.isFinite, total >= 0, total <= Double(OptionRanges.steps.upperBound) else {
            throw ARCDataError(file: metadataFile.path, field: "total_groups/mean_puzzle_examples",
                               message: "--epochs \(epochs) x \(metadata.totalGroups) groups x \(metadata.meanPuzzleExamples) examples "
                                   + "/ batch \(options.batchSize) is \(total) steps, outside 0...\(OptionRanges.steps.upperBound); lower --epochs")
        }
        options.totalSteps = max(1, Int(total))
        return TrainingConfiguration(model: config, trainer: options, epochs: epochs, maxSteps: trainer.maxSteps ?? options.totalSteps,
                                     timeBudgetSeconds: run.timeBudgetSeconds, logInterval: trainer.logInterval,
                                     checkpointInterval: trainer.checkpointInterval, datasetDigest: datasetDigest)
    }

    /// SHA-256 (hex) of the canonical JSON.
    func digest() throws -> String { SHA256Hasher.hexDigest(of: try canonicalJSON()) }
}
