// The train stage on a data-parallel run's ranks other than 0 (DistributedLaunch.swift): rank 0
// checks, locks and writes the run folder as in one process and sends the resolved model config
// and trainer options; the other ranks read the same dataset (the path must be visible to every
// rank, or hold the same build), take their share of every batch, and write nothing. The run
// folder need not be visible to them: a resumed checkpoint comes from rank 0 (DataParallel.swift).
import ARCAugment
import ARCCore
import Distributed
import Foundation
import HRM
import Kernels
import Training

extension TrainStage {
    /// Rank 0: sends the dataset's digest, the run's model config and trainer options to the other
    /// ranks (no-op alone).
    static func sendConfiguration(_ config: HRMConfig, _ options: TrainerOptions, datasetDigest: String, group: ProcessGroup = .world) throws {
        guard group.isDistributed else { return }
        _ = try group.broadcast(Data(datasetDigest.utf8))
        _ = try group.broadcast(try JSONEncoder().encode(config))
        _ = try group.broadcast(try JSONEncoder().encode(options))
    }

    /// A rank other than 0: trains its share of every batch of rank 0's run.
    static func runOnWorker(_ request: TrainRequest, stop: StopRequest, group: ProcessGroup = .world) throws -> TrainingSummary {
        KernelThreads.configure(threads: request.run.threads)
        let dataset = try BuiltDataset(directory: request.dataset)
        let split = try dataset.split("train")
        let digest = String(decoding: try group.broadcast(Data()), as: UTF8.self)
        guard digest == (try datasetDigest(request.dataset)) else {
            throw ARCDataError(file: request.dataset.path, message: "is not the dataset rank 0 trains on (its metadata differ): "
                               + "every rank must see the same built dataset (a shared folder, or the same build-dataset command and seed)")
        }
        let decoder = JSONDecoder()
        let config = try decoder.decode(HRMConfig.self, from: try group.broadcast(Data()))
        let options = try decoder.decode(TrainerOptions.self, from: try group.broadcast(Data()))
        try checkMemory(config: config, batchSize: options.batchSize, carries: split.orderedSubsets.count, resume: request.resume)
        let model = ReasoningModel<Float>.make(config: config, maxBatch: options.batchSize)
        let sources = split.orderedSubsets.map { BuiltExampleSource(subset: $0, ignoreLabelId: split.metadata.ignoreLabelId) }
        let session = try TrainingSession(runDirectory: request.runDirectory, model: model, buckets: sources, options: options,
                                          resume: request.resume, group: group)
        var plan = TrainingPlan(maxSteps: request.trainer.maxSteps ?? options.totalSteps, timeBudget: request.timeLimit)
        plan.logInterval = request.trainer.logInterval
        plan.checkpointInterval = request.trainer.checkpointInterval
        plan.quiet = true
        return try session.run(plan, stop: stop)
    }
}
