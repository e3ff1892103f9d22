// Data-parallel training across the ranks of a ProcessGroup (module Distributed), the same run
// one process would make with the same global batch:
// - the global batch of `options.batchSize` slots is cut into contiguous shares, rank r holding
//   slots share.range; every rank draws the whole global batch from its own copy of the sampler
//   (same seed, same sequence) and keeps its share, and its ACT carry holds only its slots;
// - the exploration stream is drawn for every global slot on every rank (each rank uses its
//   slots' draws), so halting is decided as in one process;
// - losses are divided by the global batch; the dense gradients are summed over the ranks in
//   rank order (ProcessGroup.sumInRankOrder), so every rank applies the same AdamATan2 update;
// - sparse sign-SGD sees every puzzle row of the global batch with its summed gradient: the ids
//   and row gradients of all ranks are gathered in slot order, as the reference's distributed
//   sparse optimizer does (github.com/sapientinc/HRM models/sparse_embedding.py, all-gather);
// - checkpoints hold the global batch (rank 0 gathers the slots), so a run saved by N ranks
//   resumes on any number of ranks, one process included.
import Distributed
import Foundation
import HRM
import Kernels

/// The slots of the global batch one rank holds: lower..<upper of `global`.
public struct SlotShare: Sendable, Equatable {
    public let lower: Int, upper: Int, global: Int
    public var count: Int { upper - lower }
    public var range: Range<Int> { lower..<upper }

    /// Rank `rank` of `ranks`'s share of a batch of `batch` slots (sizes differ by at most one).
    public init(rank: Int, ranks: Int, batch: Int) {
        lower = rank * batch / ranks
        upper = (rank + 1) * batch / ranks
        global = batch
    }
}

/// The ACT carry's layout as `exportCarry` gives it: zH then zL, each slot-major.
let carryParts = 2

extension ACTTrainer {
    /// Checks that the global batch gives every rank at least one slot.
    static func share(of group: ProcessGroup, batch: Int) throws -> SlotShare {
        guard batch >= group.size else {
            throw CheckpointError.invalid("the batch size \(batch) is smaller than the \(group.size) MPI ranks: every rank needs at least one slot; "
                                          + "raise --batch-size or start fewer ranks")
        }
        return SlotShare(rank: group.rank, ranks: group.size, batch: batch)
    }

    /// Advances the exploration stream past `slots` global slots held by other ranks (two draws each).
    func skipExplorationDraws(_ slots: Int) {
        guard haltMaxSteps > 1 else { return }
        for _ in 0..<(2 * slots) { _ = rng.next() }
    }

    /// Sums the step's metrics over the ranks (every rank gets the global values).
    func reduceOverRanks(_ m: inout StepMetrics) throws {
        guard group.isDistributed else { return }
        var v = [m.lmLoss, m.qHaltLoss, m.qContinueLoss, Double(m.count), m.accuracySum, Double(m.exactSum),
                 Double(m.qHaltCorrectSum), Double(m.stepsSum), Double(m.batchSize), Double(m.tokens)]
        try group.sum(&v)
        m.lmLoss = v[0]; m.qHaltLoss = v[1]; m.qContinueLoss = v[2]; m.count = Int(v[3]); m.accuracySum = v[4]
        m.exactSum = Int(v[5]); m.qHaltCorrectSum = Int(v[6]); m.stepsSum = Int(v[7]); m.batchSize = Int(v[8]); m.tokens = Int(v[9])
    }

    /// Sums the dense gradients over the ranks, in rank order.
    func reduceDenseGradients() throws {
        try group.sumInRankOrder(model.gradients.pointer, count: model.denseParameterCount)
    }

    /// Calls `body` with the puzzle identifiers and embedding-row gradients of the whole global
    /// batch in slot order (this rank's own for a single process).
    func withGlobalPuzzleRows(_ identifiers: [Int32], _ body: ([Int32], UnsafePointer<Float>) -> Void) throws {
        guard group.isDistributed else { return body(identifiers, model.puzzleGradients.pointer) }
        let width = model.puzzleEmbeddingWidth
        let rows = Array(UnsafeBufferPointer(start: model.puzzleGradients.pointer, count: identifiers.count * width))
        let allIdentifiers = try group.allGather(identifiers)
        let allRows = try group.allGather(rows)
        allRows.withUnsafeBufferPointer { body(allIdentifiers, $0.baseAddress!) }
    }

    /// The state of the whole global batch, gathered on rank 0 (nil on the other ranks); for a
    /// single process, `snapshot()`. Every rank must call it.
    public func globalSnapshot() throws -> TrainerSnapshot? {
        let local = snapshot()
        guard group.isDistributed else { return local }
        var buckets = local.buckets
        for (k, b) in local.buckets.enumerated() {
            let steps = try group.gatherToRoot(b.slotSteps)
            let halted = try group.gatherToRoot(b.halted.map { Int32($0 ? 1 : 0) })
            let inputs = try group.gatherToRoot(b.currentInputs)
            let labels = try group.gatherToRoot(b.currentLabels)
            let identifiers = try group.gatherToRoot(b.currentIdentifiers)
            let carries = try group.gatherToRoot(b.carry)
            guard let steps, let halted, let inputs, let labels, let identifiers, let carries else { continue }
            buckets[k].slotSteps = steps.flatMap { $0 }
            buckets[k].halted = halted.flatMap { $0 }.map { $0 != 0 }
            buckets[k].currentInputs = inputs.flatMap { $0 }
            buckets[k].currentLabels = labels.flatMap { $0 }
            buckets[k].currentIdentifiers = identifiers.flatMap { $0 }
            var carry = [Float]()
            carry.reserveCapacity(carries.reduce(0) { $0 + $1.count })
            for part in 0..<carryParts {
                for rankCarry in carries {
                    let size = rankCarry.count / carryParts
                    carry += rankCarry[(part * size)..<((part + 1) * size)]
                }
            }
            buckets[k].carry = carry
        }
        guard group.isRoot else { return nil }
        var global = local
        global.buckets = buckets
        return global
    }

    /// Restores a checked state of the whole global batch: this rank takes its share of the slots.
    public func restore(global s: TrainerSnapshot) {
        guard group.isDistributed else { return restore(s) }
        var mine = s
        let r = share.range, seqLens = buckets.map(\.seqLen)
        for (k, b) in s.buckets.enumerated() {
            let seqLen = seqLens[k]
            mine.buckets[k].slotSteps = Array(b.slotSteps[r])
            mine.buckets[k].halted = Array(b.halted[r])
            mine.buckets[k].currentIdentifiers = Array(b.currentIdentifiers[r])
            mine.buckets[k].currentInputs = Array(b.currentInputs[(r.lowerBound * seqLen)..<(r.upperBound * seqLen)])
            mine.buckets[k].currentLabels = Array(b.currentLabels[(r.lowerBound * seqLen)..<(r.upperBound * seqLen)])
            let partSize = b.carry.count / carryParts, row = partSize / share.global
            var carry = [Float]()
            for part in 0..<carryParts {
                carry += b.carry[(part * partSize + r.lowerBound * row)..<(part * partSize + r.upperBound * row)]
            }
            mine.buckets[k].carry = carry
        }
        restore(mine)
    }
}

extension TrainingSession {
    /// Resumes from the latest checkpoint: rank 0 reads its two files and sends them to every rank
    /// (the run folder need not be visible to the other ranks); each rank checks the state and
    /// takes its share of the slots.
    func resumeFromLatest(model: ReasoningModel<Float>) throws {
        let group = trainer.group
        var modelData = Data(), stateData = Data(), folderPath = Data()
        if group.isRoot {
            guard let folder = store.latest() else {
                throw CheckpointError.missing("\(runDirectory.path) has no complete checkpoint to resume (checkpoints/latest)")
            }
            if let note = store.fallbackNote() { log("warning: " + note) }
            let stateURL = folder.appendingPathComponent("state.safetensors")
            guard group.isDistributed else {
                let snapshot = try CheckpointStore.readState(stateURL)
                try CheckpointStore.check(snapshot, against: trainer, source: stateURL.path)
                try model.load(from: store.modelFile(folder))
                return trainer.restore(snapshot)
            }
            // Read (and checked for form) here, sent to every rank as the parsed tensors' bytes.
            stateData = try SafeTensorsFile.read(stateURL).serialized()
            modelData = try SafeTensorsFile.read(store.modelFile(folder)).serialized()
            folderPath = Data(folder.path.utf8)
        }
        let folder = String(decoding: try group.broadcast(folderPath), as: UTF8.self)
        let modelSource = folder + "/model.safetensors", stateSource = folder + "/state.safetensors"
        let stateFile = try SafeTensorsFile.parse(try group.broadcast(stateData), source: stateSource)
        let snapshot = try CheckpointStore.readState(stateFile, source: stateSource)
        try CheckpointStore.check(snapshot, against: trainer, source: stateSource)
        try model.load(from: try SafeTensorsFile.parse(try group.broadcast(modelData), source: modelSource), source: modelSource)
        trainer.restore(global: snapshot)
    }

    /// Every rank starts from rank 0's parameters and buffers (the other ranks do not initialize).
    func synchronizeParameters() throws {
        let group = trainer.group, model = trainer.model
        guard group.isDistributed else { return }
        // The whole arena: trainable tensors and the H_init/L_init buffers after them.
        try group.broadcast(model.parameters.values.pointer, count: model.parameters.layout.totalCount)
        try group.broadcast(model.parameters.puzzleEmbedding.pointer, count: model.puzzleIdentifierCount * model.puzzleEmbeddingWidth)
    }

    /// Whether to stop before the next step, the same on every rank: a stop request (signal) on
    /// any rank wins over a used time budget on any rank. Returns the reason, or nil to go on.
    func agreedStop(_ plan: TrainingPlan, stop: StopRequest, elapsed: Double) throws -> String? {
        var code = 0
        if stop.reason != nil { code = 2 } else if let budget = plan.timeBudget, elapsed >= budget { code = 1 }
        code = try trainer.group.maximum(code)
        switch code {
        case 2:
            if stop.reason == nil { stop.request("stopped with another MPI rank") }
            return stop.reason
        case 1: return plan.timeBudget.map { "time budget of \(Int($0)) s used" } ?? "another MPI rank's time budget used"
        default: return nil
        }
    }

    /// Writes a checkpoint of the whole global batch (rank 0 writes; every rank must call it).
    /// Returns the checkpoint folder on rank 0, nil on the others.
    func saveCheckpoint() throws -> URL? {
        guard trainer.group.isDistributed else { return try store.save(trainer: trainer, metadata: metadata) }
        guard let snapshot = try trainer.globalSnapshot() else { return nil }
        return try store.save(trainer: trainer, snapshot: snapshot, metadata: metadata)
    }

    /// Rank 0's answer to `question` on every rank.
    func rootDecides(_ question: Bool) throws -> Bool {
        try trainer.group.rootDecides(question)
    }
}

extension ExamplePrediction {
    /// A prediction rebuilt from another MPI rank's bytes (the evaluate stage gathers them).
    public init(gatheredExample example: Int, tokens: [UInt8], qHalt: Float) {
        self.init(example: example, tokens: tokens, qHalt: qHalt)
    }
}
