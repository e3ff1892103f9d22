// The evaluate stage across MPI ranks (DistributedLaunch.swift): the test examples are cut into
// exactly the forward batches one process runs (per canvas set, chunks of `chunk` examples, then
// batches of the predictor's size), batch k goes to rank k mod N, and rank 0 gathers every
// rank's predictions back into one process's order before it votes once and writes. Each batch
// holds the same examples and padding as in one process, so every prediction, and therefore the
// submission, is the same bytes. The other ranks get the checkpoint from rank 0 (the run folder
// need not be visible to them) and read the same dataset; they write nothing.
import ARCAugment
import ARCCore
import Distributed
import Foundation
import HRM
import Kernels
import Training

extension EvaluateStage {
    /// One forward batch: canvas set `subset`, examples `examples`.
    struct ShardBatch {
        var subset: Int
        var examples: Range<Int>
    }

    /// The forward batches of one process's prediction loop, in its order.
    static func forwardBatches(_ subsets: [BuiltSubset], chunk: Int, batch: Int) -> [ShardBatch] {
        var batches = [ShardBatch]()
        for (index, subset) in subsets.enumerated() {
            for chunkStart in stride(from: 0, to: subset.exampleCount, by: chunk) {
                let chunkEnd = min(subset.exampleCount, chunkStart + chunk)
                for start in stride(from: chunkStart, to: chunkEnd, by: batch) {
                    batches.append(ShardBatch(subset: index, examples: start..<min(chunkEnd, start + batch)))
                }
            }
        }
        return batches
    }

    /// Predicts this rank's share of the batches; on rank 0 returns every prediction of every
    /// set in one process's order (per set: ascending example), on the other ranks [].
    static func predictSharded(_ subsets: [BuiltSubset], ignoreLabelId: Int?, predictor: ACTPredictor, chunk: Int,
                               progress: ProgressReporter?, group: ProcessGroup = .world) throws -> [[ExamplePrediction]] {
        let batches = forwardBatches(subsets, chunk: chunk, batch: predictor.batchSize)
        let sources = subsets.map { BuiltExampleSource(subset: $0, ignoreLabelId: ignoreLabelId) }
        let total = subsets.reduce(0) { $0 + $1.exampleCount }
        var mine = [ExamplePrediction](), done = 0
        for k in stride(from: group.rank, to: batches.count, by: group.size) {
            let b = batches[k], subset = subsets[b.subset]
            mine += try predictor.predict(Array(b.examples), from: sources[b.subset],
                                          identifierOf: { subset.puzzleIdentifiers[subset.puzzle(ofExample: $0)] })
            done += b.examples.count
            progress?.update(done: Int64(min(total, done * group.size)), total: Int64(total))
        }
        var perSet = [[ExamplePrediction]](repeating: [], count: subsets.count)
        guard group.isDistributed else {
            var cursor = 0
            for b in batches {
                perSet[b.subset] += mine[cursor..<(cursor + b.examples.count)]
                cursor += b.examples.count
            }
            return perSet
        }
        // Each prediction as bytes: example (Int32), q_halt (Float bits), the set's tokens.
        var bytes = [UInt8]()
        for p in mine {
            withUnsafeBytes(of: Int32(p.example).littleEndian) { bytes += $0 }
            withUnsafeBytes(of: p.qHalt.bitPattern.littleEndian) { bytes += $0 }
            bytes += p.tokens
        }
        guard let gathered = try group.gatherToRoot(bytes) else { return [] }
        var cursors = [Int](repeating: 0, count: group.size)
        for (k, b) in batches.enumerated() {
            let rank = k % group.size, seqLen = sources[b.subset].sequenceLength  // the set's canvas side squared
            for _ in b.examples {
                let data = gathered[rank], at = cursors[rank]
                guard at + 8 + seqLen <= data.count else {
                    throw DistributedError.communication("rank \(rank) sent fewer predictions than its batches hold")
                }
                func word(_ offset: Int) -> UInt32 {
                    var value: UInt32 = 0
                    for k in 0..<4 { value |= UInt32(data[at + offset + k]) << UInt32(8 * k) }
                    return value
                }
                perSet[b.subset].append(ExamplePrediction(gatheredExample: Int(Int32(bitPattern: word(0))), tokens: Array(data[(at + 8)..<(at + 8 + seqLen)]),
                                                          qHalt: Float(bitPattern: word(4))))
                cursors[rank] = at + 8 + seqLen
            }
        }
        return perSet
    }

    /// Rank 0: sends the checkpoint file and the dataset's digest to the other ranks (no-op alone).
    static func sendCheckpoint(_ tensors: SafeTensorsFile, file: URL, dataset: URL, group: ProcessGroup = .world) throws {
        guard group.isDistributed else { return }
        _ = try group.broadcast(Data(try TrainStage.datasetDigest(dataset).utf8))
        _ = try group.broadcast(Data(file.path.utf8))
        _ = try group.broadcast(try tensors.serialized())
    }

    /// A rank other than 0: predicts its share of rank 0's evaluation and sends it back.
    static func runOnWorker(_ request: EvaluateRequest, group: ProcessGroup = .world) throws {
        KernelThreads.configure(threads: request.threads)
        let split = try BuiltDataset(directory: request.dataset).split("test")
        let subsets = split.orderedSubsets
        let exampleCount = subsets.reduce(0) { $0 + $1.exampleCount }
        let digest = String(decoding: try group.broadcast(Data()), as: UTF8.self)
        guard digest == (try TrainStage.datasetDigest(request.dataset)) else {
            throw ARCDataError(file: request.dataset.path, message: "is not the dataset rank 0 evaluates (its metadata differ): "
                               + "every rank must see the same built dataset (a shared folder, or the same build-dataset command and seed)")
        }
        let source = String(decoding: try group.broadcast(Data()), as: UTF8.self)
        let tensors = try SafeTensorsFile.parse(try group.broadcast(Data()), source: source)
        guard var config = try ReasoningModel<Float>.storedConfig(in: tensors, source: source) else {
            throw ARCDataError(file: source, field: "__metadata__.config", message: "missing model config")
        }
        if let steps = request.haltMaxSteps { config.haltMaxSteps = steps }
        let batch = max(1, min(request.batchSize, exampleCount))
        try config.validate(batchSize: batch)
        try MemoryEstimate.check(config: config, batchSize: batch, training: false, what: "evaluating at batch size \(batch)",
                                 remedy: "lower the evaluation's batch size (evaluate --batch-size, train-eval --eval-batch-size)")
        let model = ReasoningModel<Float>.make(config: config, maxBatch: batch)
        try model.load(from: tensors, source: source)
        let predictor = ACTPredictor(model: model, batchSize: batch, haltMaxSteps: config.haltMaxSteps)
        _ = try predictSharded(subsets, ignoreLabelId: split.metadata.ignoreLabelId, predictor: predictor, chunk: predictionChunk, progress: nil, group: group)
    }

    /// Examples per predictor call in one process's loop.
    static let predictionChunk = 256
}
