// Writing a planned dataset: compute threads encode tasks (at most a window ahead) while one
// writer appends their chunks in task order to the split files, then dataset.json, identifiers.json,
// test_puzzles.json and build_info.json (BuildInfo.swift). Part of DatasetBuilder (DatasetBuilder.swift has the overview).
import ARCCore
import Foundation

extension DatasetBuilder {
    /// Shared state between the compute threads and the writer.
    final class Pipeline: @unchecked Sendable {
        let condition = NSCondition()
        var nextToClaim = 0
        var nextToWrite = 0
        var outputs = [Int: TaskOutput]()
        var stopped = false
        /// Recycled chunk buffers.
        var pool = [ChunkBuffers]()
    }

    static func write(jobs: [BuildJob], options: DatasetBuildOptions, into directory: URL, summary: inout DatasetBuildSummary,
                      inputs: [RoledTaskSet], interruption: Interruption?, progress: ((DatasetBuildProgress) -> Void)?) throws {
        // build_info.json records the seed as a JSON integer: refused before any work.
        guard Int(exactly: options.seed) != nil else {
            throw ARCDataError(file: BuildInfo.fileName, field: "seed", message: "is \(options.seed), expected 0...\(Int64.max)")
        }
        // Bucket mode: token positions on the 30 x 30 board (seq_len 900), each set s x s tokens.
        let bucketMode = options.canvasBuckets != nil
        let canvas = bucketMode ? CanvasBuckets.board : options.canvas
        let seqLen = canvas * canvas
        let train = try SplitWriter(directory: directory, name: "train", canvas: canvas, bucketMode: bucketMode)
        let hasTest = jobs.contains { !$0.testPairs.isEmpty }
        let test = hasTest ? try SplitWriter(directory: directory, name: "test", canvas: canvas, bucketMode: bucketMode) : nil
        let identifiers = try TextStream(url: directory.appendingPathComponent("identifiers.json"))
        let testPuzzles = try TextStream(url: directory.appendingPathComponent("test_puzzles.json"))
        try identifiers.write("[\"<blank>\"")
        try testPuzzles.write("{")
        var nextIdentifier = 1
        var firstTestPuzzle = true

        // Threads claim tasks in order (at most `window` ahead of the writer) and hand over each
        // task's group in chunks of about `chunkBytes`, at most `maxPendingChunks` waiting per
        // task: memory stays bounded whatever numAug is, and the writer keeps task order.
        let pipeline = Pipeline()
        let window = max(options.window, options.threads)
        let chunkBytes = max(1, options.chunkBytes), maxPendingChunks = 3
        let group = DispatchGroup()
        for _ in 0..<options.threads {
            // Plain threads, not the global dispatch pool: the writer blocks the calling thread,
            // which may itself be a pool thread.
            group.enter()
            Thread {
                defer { group.leave() }
                while true {
                    pipeline.condition.lock()
                    while !pipeline.stopped && pipeline.nextToClaim < jobs.count && pipeline.nextToClaim - pipeline.nextToWrite >= window {
                        pipeline.condition.wait()
                    }
                    if pipeline.stopped || pipeline.nextToClaim >= jobs.count {
                        pipeline.condition.unlock()
                        return
                    }
                    let job = jobs[pipeline.nextToClaim]
                    pipeline.nextToClaim += 1
                    let output = TaskOutput()
                    pipeline.outputs[job.index] = output
                    pipeline.condition.unlock()

                    var rng = randomStream(job, options: options)
                    let augmentations = DatasetBuilder.group(job, options: options, rng: &rng)
                    pipeline.condition.lock()
                    output.augmentations = augmentations
                    pipeline.condition.broadcast()
                    pipeline.condition.unlock()

                    let bytesPerPuzzle = max(1, 2 * job.side * job.side * (job.trainPairs.count + job.testPairs.count))
                    let puzzlesPerChunk = max(1, chunkBytes / bytesPerPuzzle)
                    var start = 0
                    while start < augmentations.count {
                        let end = min(start + puzzlesPerChunk, augmentations.count)
                        pipeline.condition.lock()
                        while !pipeline.stopped && output.chunks.count >= maxPendingChunks { pipeline.condition.wait() }
                        if pipeline.stopped {
                            pipeline.condition.unlock()
                            return
                        }
                        let buffers = pipeline.pool.popLast() ?? ChunkBuffers()
                        pipeline.condition.unlock()
                        encode(job, augmentations: augmentations[start..<end], options: options, rng: &rng, buffers: buffers)
                        pipeline.condition.lock()
                        output.chunks.append(EncodedChunk(puzzles: end - start, buffers: buffers))
                        pipeline.condition.broadcast()
                        pipeline.condition.unlock()
                        start = end
                    }
                    pipeline.condition.lock()
                    output.finished = true
                    pipeline.condition.broadcast()
                    pipeline.condition.unlock()
                }
            }.start()
        }
        defer {
            pipeline.condition.lock()
            pipeline.stopped = true
            pipeline.condition.broadcast()
            pipeline.condition.unlock()
            group.wait()
        }

        for job in jobs {
            pipeline.condition.lock()
            while pipeline.outputs[job.index]?.augmentations == nil { pipeline.condition.wait() }
            let output = pipeline.outputs[job.index]!
            let augmentations = output.augmentations!
            pipeline.condition.unlock()

            let puzzles = augmentations.count
            if puzzles < options.numAug + 1 { summary.shortGroups.append((job.name, puzzles - 1)) }
            var names = ""
            for aug in augmentations { names += ", " + jsonString(aug.puzzleName(task: job.name)) }
            try identifiers.write(names)

            var written = 0
            while true {
                pipeline.condition.lock()
                while output.chunks.isEmpty && !output.finished { pipeline.condition.wait() }
                if output.chunks.isEmpty {
                    pipeline.condition.unlock()
                    break
                }
                let chunk = output.chunks.removeFirst()
                pipeline.condition.broadcast()
                pipeline.condition.unlock()
                try interruption?.check()
                try train.appendPuzzles(side: job.side, inputBytes: chunk.buffers.trainInputs.bytes, labelBytes: chunk.buffers.trainLabels.bytes,
                                        firstIdentifier: nextIdentifier + written, puzzles: chunk.puzzles, perPuzzle: job.trainPairs.count)
                try test?.appendPuzzles(side: job.side, inputBytes: chunk.buffers.testInputs.bytes, labelBytes: chunk.buffers.testLabels.bytes,
                                        firstIdentifier: nextIdentifier + written, puzzles: chunk.puzzles, perPuzzle: job.testPairs.count)
                written += chunk.puzzles
                pipeline.condition.lock()
                pipeline.pool.append(chunk.buffers)
                pipeline.condition.unlock()
            }
            precondition(written == puzzles, "task \(job.name): wrote \(written) of \(puzzles) puzzles")
            try train.endGroup(side: job.side, perPuzzle: job.trainPairs.count)
            try test?.endGroup(side: job.side, perPuzzle: job.testPairs.count)
            nextIdentifier += puzzles

            pipeline.condition.lock()
            pipeline.outputs[job.index] = nil
            pipeline.nextToWrite = job.index + 1
            pipeline.condition.broadcast()
            pipeline.condition.unlock()

            if job.isEvaluation {
                try testPuzzles.write((firstTestPuzzle ? "" : ", ") + jsonString(job.name) + ": " + taskJSON(job.original))
                firstTestPuzzle = false
            }
            if let progress {
                let bytes = train.bytesSoFar + (test?.bytesSoFar ?? 0)
                progress(DatasetBuildProgress(tasksDone: job.index + 1, tasksTotal: jobs.count,
                                              puzzles: train.summary.puzzles, examples: train.summary.examples + (test?.summary.examples ?? 0),
                                              bytes: bytes))
            }
        }
        guard nextIdentifier - 1 <= Int(Int32.max) else { throw NpyError(file: directory.path, message: "more than 2^31 identifiers") }
        try identifiers.write("]")
        try testPuzzles.write("}")
        summary.identifiers = nextIdentifier
        summary.splits.append(try train.finish(numIdentifiers: nextIdentifier, seqLen: seqLen))
        if let test { summary.splits.append(try test.finish(numIdentifiers: nextIdentifier, seqLen: seqLen)) }
        summary.totalBytes = summary.splits.reduce(0) { $0 + $1.bytes }
        summary.totalBytes += try identifiers.finish()
        summary.totalBytes += try testPuzzles.finish()

        // The options and counts, so later stages can tell whether a built dataset is current.
        let recorded = BuildInfo.Inputs(options: options, training: inputs.filter { $0.role == .training }.map(\.set.name),
                                        evaluation: inputs.filter { $0.role == .evaluation }.map(\.set.name))
        try BuildInfo(inputs: recorded, summary: summary, tasks: jobs.count, identifiers: nextIdentifier).write(datasetDirectory: directory)
    }
}
