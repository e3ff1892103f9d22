// A training run in a run folder: starts fresh or resumes exactly from the latest checkpoint,
// steps the ACT trainer until max steps, the time budget or a stop request, logs
// metrics.jsonl, shows progress (a live line on a terminal, plain lines in logs), and saves
// crash-safe checkpoints. A non-finite loss or gradient stops the run with an error naming
// the step and the last good checkpoint (or saying that none was saved yet).
import ARCAugment
import ARCCore
import Distributed
import Foundation
import HRM
import Kernels

public struct TrainingPlan: Sendable {
    public var maxSteps: Int
    public var timeBudget: TimeInterval?
    public var logInterval = 10
    public var checkpointInterval = 200
    public var quiet = false
    public init(maxSteps: Int, timeBudget: TimeInterval? = nil) {
        self.maxSteps = maxSteps
        self.timeBudget = timeBudget
    }
}

public struct TrainingSummary: Sendable {
    public var startStep: Int
    public var endStep: Int
    public var seconds: Double
    public var stopReason: String
    public var lastMetrics: MetricsRecord?
    public var checkpoint: URL?
    /// The steps this run saved a checkpoint of, in order (each at most once; every rank keeps the list).
    public var checkpointSteps: [Int] = []
}

/// Averages of the reference's metrics over a logging interval.
struct MetricsWindow {
    var steps = 0, count = 0, exact = 0, qHaltCorrect = 0, actSteps = 0, tokens = 0, batch = 0
    var accuracy = 0.0, lm = 0.0, qHalt = 0.0, qContinue = 0.0
    var start = Date()

    mutating func add(_ m: StepMetrics) {
        steps += 1; count += m.count; exact += m.exactSum; qHaltCorrect += m.qHaltCorrectSum; actSteps += m.stepsSum
        tokens += m.tokens; batch += m.batchSize; accuracy += m.accuracySum
        lm += m.lmLoss; qHalt += m.qHaltLoss; qContinue += m.qContinueLoss
    }

    func record(step: Int, epoch: Int, lr: Double, elapsed: Double) -> MetricsRecord {
        let c = Double(max(count, 1)), b = Double(max(batch, 1))
        let seconds = max(Date().timeIntervalSince(start), 1e-9)
        return MetricsRecord([
            ("step", Double(step)), ("epoch", Double(epoch)), ("lr", lr),
            ("lm_loss", lm / b), ("q_halt_loss", qHalt / b), ("q_continue_loss", qContinue / b),
            ("accuracy", accuracy / c), ("exact_accuracy", Double(exact) / c), ("q_halt_accuracy", Double(qHaltCorrect) / c),
            ("steps", Double(actSteps) / c), ("halted", Double(count)),
            ("tokens_per_second", Double(tokens) / seconds), ("elapsed_seconds", elapsed),
        ])
    }
}

public final class TrainingSession {
    public let runDirectory: URL
    public let trainer: ACTTrainer
    public let store: CheckpointStore
    public var log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
    let metadata: [String: String]

    /// Makes the trainer on one example source; with `resume`, restores the model and trainer
    /// state of the latest checkpoint.
    public convenience init(runDirectory: URL, model: ReasoningModel<Float>, data: ExampleSource, options: TrainerOptions,
                            resume: Bool, metadata: [String: String] = [:]) throws {
        try self.init(runDirectory: runDirectory, model: model, buckets: [data], options: options, resume: resume, metadata: metadata)
    }

    /// Makes the trainer on one example source per canvas bucket (docs/DESIGN.md "Formats").
    /// Under data parallelism (`group` of several ranks, DataParallel.swift) every rank makes its
    /// session; rank 0 alone writes metrics and checkpoints.
    public init(runDirectory: URL, model: ReasoningModel<Float>, buckets: [ExampleSource], options: TrainerOptions,
                resume: Bool, metadata: [String: String] = [:], group: ProcessGroup = .single) throws {
        self.runDirectory = runDirectory
        self.metadata = metadata
        store = CheckpointStore(runDirectory: runDirectory)
        guard !buckets.isEmpty else { throw CheckpointError.invalid("the dataset has no examples to train on") }
        for data in buckets {
            if data.canvasSide == nil {
                guard data.sequenceLength == model.sequenceLength else {
                    throw CheckpointError.invalid("the dataset's seq_len \(data.sequenceLength) does not match the model's \(model.sequenceLength)")
                }
            }
            for puzzle in 0..<max(0, data.puzzleOffsets.count - 1) {
                let identifier = data.identifier(ofPuzzle: puzzle)
                guard identifier >= 0, Int(identifier) < model.puzzleIdentifierCount else {
                    throw CheckpointError.invalid("puzzle \(puzzle) of the dataset has identifier \(identifier), the model has identifiers 0..<\(model.puzzleIdentifierCount)")
                }
            }
        }
        trainer = try ACTTrainer(model: model, buckets: buckets, options: options, group: group)
        if resume { try resumeFromLatest(model: model) }
        try synchronizeParameters()
    }

    public func run(_ plan: TrainingPlan, stop: StopRequest) throws -> TrainingSummary {
        let startStep = trainer.step
        let metricsLog = trainer.group.isRoot ? try MetricsLog(url: runDirectory.appendingPathComponent("metrics.jsonl"),
                                                               truncateAfterStep: startStep > 0 ? startStep : nil) : nil
        let start = Date()
        var window = MetricsWindow()
        var last: MetricsRecord? = nil
        var lastEpoch = 0
        var checkpoint: URL? = nil
        // The steps saved (the same on every rank): the run's end does not save the loop's last one again.
        var savedSteps: [Int] = []
        let terminal = isatty(STDERR_FILENO) != 0 && !plan.quiet
        var reason = "reached \(plan.maxSteps) steps"
        func elapsed() -> Double { Date().timeIntervalSince(start) }
        while trainer.step < plan.maxSteps {
            if let r = try agreedStop(plan, stop: stop, elapsed: elapsed()) { reason = r; break }
            let m: StepMetrics
            do { m = try trainer.trainStep() } catch let TrainingError.nonFinite(step, what) {
                throw TrainingError.diverged(step: step, what: what, lastCheckpoint: store.latest()?.lastPathComponent)
            }
            window.add(m)
            lastEpoch = m.epoch
            if trainer.step % plan.logInterval == 0 || trainer.step == plan.maxSteps {
                let record = window.record(step: trainer.step, epoch: m.epoch, lr: m.learningRate, elapsed: elapsed())
                try metricsLog?.append(record)
                last = record
                window = MetricsWindow()
                if !plan.quiet { report(record, plan: plan, start: startStep, terminal: terminal) }
            }
            if trainer.step % plan.checkpointInterval == 0 {
                checkpoint = try saveCheckpoint()
                savedSteps.append(trainer.step)
            }
        }
        if window.steps > 0 {
            let record = window.record(step: trainer.step, epoch: lastEpoch, lr: trainer.schedule.rate(base: trainer.options.learningRate, step: trainer.step), elapsed: elapsed())
            try metricsLog?.append(record)
            // The summary names the last full interval: a few trailing steps may hold no halted slot.
            if last == nil { last = record }
        }
        if terminal { FileHandle.standardError.write(Data("\n".utf8)) }
        if try rootDecides((trainer.step > startStep && savedSteps.last != trainer.step) || store.latest() == nil) {
            checkpoint = try saveCheckpoint()
            savedSteps.append(trainer.step)
        }
        return TrainingSummary(startStep: startStep, endStep: trainer.step, seconds: elapsed(), stopReason: reason,
                               lastMetrics: last, checkpoint: checkpoint ?? store.latest(), checkpointSteps: savedSteps)
    }

    func report(_ r: MetricsRecord, plan: TrainingPlan, start: Int, terminal: Bool) {
        let step = Int(r["step"] ?? 0)
        let seconds = r["elapsed_seconds"] ?? 0
        let done = step - start
        let perStep = done > 0 ? seconds / Double(done) : 0
        var eta = Double(plan.maxSteps - step) * perStep
        if let budget = plan.timeBudget { eta = min(eta, max(0, budget - seconds)) }
        let line = String(format: "step %d/%d  lm_loss %.4f  acc %.3f  exact %.3f  q_acc %.3f  act %.1f  %.0f tok/s",
                          step, plan.maxSteps, r["lm_loss"] ?? 0, r["accuracy"] ?? 0, r["exact_accuracy"] ?? 0,
                          r["q_halt_accuracy"] ?? 0, r["steps"] ?? 0, r["tokens_per_second"] ?? 0)
            + "  elapsed \(Self.clock(seconds))  ETA \(Self.clock(eta))"
        if terminal { FileHandle.standardError.write(Data(("\r\u{1B}[K" + line).utf8)) } else { log(line) }
    }

    /// "m:ss"; "--:--" for a time that is negative, not finite or above a century.
    static func clock(_ s: Double) -> String {
        guard s.isFinite, s >= 0, s <= 100 * 365 * 86_400 else { return "--:--" }
        let t = Int(s.rounded())
        return String(format: "%d:%02d", t / 60, t % 60)
    }
}

extension TrainingSession {
    /// Before resuming a run: its saved model config and trainer options (config.json, which may have
    /// been edited or come from another dataset) must fit the dataset and each other (a batch the
    /// model can take), and a batch size given again must be the run's (the optimizer state and the
    /// ACT carry are saved per slot).
    public static func checkResume(config: HRMConfig, options: TrainerOptions, dataset: BuiltDatasetMetadata,
                                   requestedBatchSize: Int?, configFile: String) throws {
        func fail(_ field: String, _ message: String) -> ARCDataError { ARCDataError(file: configFile, field: field, message: message) }
        if let requestedBatchSize, requestedBatchSize != options.batchSize {
            throw fail("training.trainer.batchSize", "the run was trained with batch size \(options.batchSize); --resume cannot change it to --batch-size \(requestedBatchSize) "
                       + "(the optimizer state and the ACT carry are saved per slot): drop --batch-size, or start a new run in another --out")
        }
        do { try config.validate(batchSize: options.batchSize) } catch { throw fail("training.trainer.batchSize", "\(error)") }
        guard config.seqLen == dataset.seqLen else { throw fail("training.model.seqLen", "is \(config.seqLen), the dataset's seq_len is \(dataset.seqLen)") }
        guard config.vocabSize == dataset.vocabSize else { throw fail("training.model.vocabSize", "is \(config.vocabSize), the dataset's vocab_size is \(dataset.vocabSize)") }
        guard config.numPuzzleIdentifiers + 1 == dataset.numPuzzleIdentifiers else {
            throw fail("training.model.numPuzzleIdentifiers", "is \(config.numPuzzleIdentifiers) (+ blank), the dataset has \(dataset.numPuzzleIdentifiers) identifiers")
        }
    }
}
