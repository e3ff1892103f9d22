// The evaluate stage (docs/SPEC.md §7): predict every test-split example of a built dataset (all
// augmented versions of every test input, halt_max_steps ACT steps each), decode, vote per
// (task, test input), and write submission.json, predictions.jsonl, evaluation.json,
// score.json (when solutions are known) and report.html into the output folder. The output is
// checked before any work (OutputFolder) and its files are written together into a staging folder
// that replaces it whole (StagingFolder), so no file of an older evaluation stays beside them.
import ARCAugment
import ARCCore
import Foundation
import HRM
import Kernels
import Report
import Training
import Voting

struct EvaluateRequest {
    var dataset: URL
    /// A run folder (latest checkpoint) or a model.safetensors file.
    var model: URL
    var output: URL
    var dataDirectory: URL
    var batchSize = 16
    var threads: Int
    var haltMaxSteps: Int?
    var quiet = false
}

struct EvaluateOutcome {
    var submission: URL
    var predictions: URL
    var report: URL?
    /// Scores over the whole challenges set.
    var score: ScoreReport?
    /// Scores over the tasks the dataset holds (the same as `score` when it holds them all).
    var datasetScore: ScoreReport?
    /// The challenges' tasks that the dataset's test split holds, and how many tasks the challenges have.
    var datasetTaskCount = 0
    var challengeTaskCount = 0
    var scoreNote: String?
    var vote: VoteOutcome
    var seconds: Double
    var examples: Int
}

enum EvaluateStage {
    /// Where the evaluation tasks come from (evaluation.json records `format`, `path` and `split`).
    struct ChallengeSource {
        var location: DatasetInputs.Location
        var tasks: TaskSet
        var path: URL {
            switch location {
            case let .kaggle(dir, _), let .folder(dir, _): return dir
            }
        }
        var format: String {
            if case .kaggle = location { return "kaggle" }
            return "directory"
        }
        var split: String? {
            if case let .kaggle(_, split) = location { return split }
            return nil
        }
    }

    static func challengeSource(label: String, dataDirectory: URL) throws -> ChallengeSource {
        let location = try DatasetInputs.location(label: label, dataDirectory: dataDirectory)
        switch location {
        case let .kaggle(dir, split):
            // Challenge-file order (the submission keeps it), not the builder's sorted order.
            let tasks = try TaskLoader.loadKaggle(directory: dir, split: split, name: label)
            try DatasetInputs.checkTaskIds(tasks.tasks, file: TaskLoader.kaggleFile(in: dir, split: split, kind: "challenges")?.path ?? dir.path)
            return ChallengeSource(location: location, tasks: tasks)
        case let .folder(dir, _):
            return ChallengeSource(location: location, tasks: try DatasetInputs.loadFolder(dir, name: label))
        }
    }

    /// Solutions for scoring: the challenges' own outputs; for the Kaggle test split, the evaluation
    /// solutions when the test file repeats exactly the evaluation tasks (as the public download does).
    static func solutions(for source: ChallengeSource) -> (SolutionSet, String, URL?)? {
        if source.tasks.tasks.allSatisfy(\.hasSolutions), let s = try? SolutionSet(tasks: source.tasks) {
            return (s, "the challenges' own test outputs", nil)
        }
        if case .kaggle(_, "test") = source.location,
           let url = TaskLoader.kaggleFile(in: source.path, split: "evaluation", kind: "solutions"),
           let eval = try? TaskLoader.loadKaggle(directory: source.path, split: "evaluation"),
           Set(eval.tasks.map(\.id)) == Set(source.tasks.tasks.map(\.id)),
           eval.tasks.allSatisfy({ e in source.tasks.task(id: e.id).map { $0.test.map(\.input) == e.test.map(\.input) } ?? false }),
           let s = try? SolutionSet(tasks: eval) {
            return (s, "\(url.lastPathComponent): the public test file repeats the evaluation tasks (the hidden Kaggle rerun does not)", url)
        }
        return nil
    }

    /// The checkpoint file, its model config and tensors, and the run folder when given one.
    static func readCheckpoint(_ url: URL) throws -> (HRMConfig, SafeTensorsFile, URL, URL?) {
        var file = url
        var runDirectory: URL? = nil
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: url.path, isDirectory: &isDir) else {
            throw ARCDataError(file: url.path, message: "no such run folder or checkpoint file (give --model RUN_FOLDER or a model.safetensors)")
        }
        if isDir.boolValue {
            guard let folder = CheckpointStore(runDirectory: url).latest() else {
                throw ARCDataError(file: url.path, message: "no checkpoint in this run folder (checkpoints/latest); train first")
            }
            if let note = CheckpointStore(runDirectory: url).fallbackNote() {
                FileHandle.standardError.write(Data("warning: \(url.path): \(note)\n".utf8))
            }
            file = CheckpointStore(runDirectory: url).modelFile(folder)
            runDirectory = url
        }
        let tensors = try SafeTensorsFile.read(file)
        guard let config = try ReasoningModel<Float>.storedConfig(in: tensors, source: file.path) else {
            throw ARCDataError(file: file.path, field: "__metadata__.config", message: "missing model config")
        }
        try ReasoningModel<Float>.checkTensors(in: tensors, config: config, source: file.path)
        return (config, tensors, file, runDirectory)
    }

    /// Checks, before any work, that the output folder can be written and replaced: missing, empty
    /// or an evaluation output of this program, and neither an input nor inside one.
    static func checkOutput(_ output: URL, dataset: URL, model: URL, dataDirectory: URL) throws {
        try OutputFolder.checkApart(output, from: [
            ProtectedInput(dataset, "the --dataset"), ProtectedInput(model, "the --model"),
            ProtectedInput(dataDirectory, "the --data-dir", outputMayBeInside: true),
        ])
        try OutputFolder.check(output, kind: .evaluation, replacesWhole: true)
    }

    static func run(_ request: EvaluateRequest) throws -> EvaluateOutcome {
        KernelThreads.configure(threads: request.threads)
        let start = Date()
        try checkOutput(request.output, dataset: request.dataset, model: request.model, dataDirectory: request.dataDirectory)
        let dataset = try BuiltDataset(directory: request.dataset)
        let split = try dataset.split("test")
        // One set for the reference layout, one per canvas bucket otherwise (each decoded on its side).
        let subsets = split.orderedSubsets
        let exampleCount = subsets.reduce(0) { $0 + $1.exampleCount }
        let info = try BuildInfo.read(datasetDirectory: request.dataset)
        guard info.inputs.evaluation.count == 1, let label = info.inputs.evaluation.first else {
            throw ARCDataError(file: BuildInfo.url(in: request.dataset).path, field: "evaluation",
                               message: "evaluate needs a dataset built with exactly one evaluation-role source")
        }
        let canvas = info.inputs.canvas
        let source = try challengeSource(label: label, dataDirectory: request.dataDirectory)
        try OutputFolder.checkApart(request.output, from: [ProtectedInput(source.path, "the challenges' folder of \(label)")])

        let (savedConfig, tensors, checkpointFile, runDirectory) = try readCheckpoint(request.model)
        var config = savedConfig
        if let steps = request.haltMaxSteps { config.haltMaxSteps = steps }
        guard config.seqLen == split.metadata.seqLen else {
            throw ARCDataError(file: request.model.path, message: "model seq_len \(config.seqLen) does not match the dataset's \(split.metadata.seqLen)")
        }
        guard config.numPuzzleIdentifiers + 1 == split.metadata.numPuzzleIdentifiers else {
            throw ARCDataError(file: request.model.path, message: "model has \(config.numPuzzleIdentifiers + 1) puzzle identifiers, the dataset \(split.metadata.numPuzzleIdentifiers): evaluate with the dataset it was trained on")
        }
        guard config.vocabSize == split.metadata.vocabSize else {
            throw ARCDataError(file: request.model.path, message: "model vocab_size \(config.vocabSize) does not match the dataset's \(split.metadata.vocabSize)")
        }
        let batch = max(1, min(request.batchSize, exampleCount))
        // The batch is the evaluation's (the model config holds none): it must fit in memory.
        do { try config.validate(batchSize: batch) } catch { throw ARCDataError(file: checkpointFile.path, message: "with --batch-size \(batch): \(error)") }
        try MemoryEstimate.check(config: config, batchSize: batch, training: false, what: "evaluating at batch size \(batch)",
                                 remedy: "lower the evaluation's batch size (evaluate --batch-size, train-eval --eval-batch-size)")
        let model = ReasoningModel<Float>.make(config: config, maxBatch: batch)
        try model.load(from: tensors, source: checkpointFile.path)
        try sendCheckpoint(tensors, file: checkpointFile, dataset: request.dataset)  // to the other MPI ranks, if any

        // The challenges' tasks this dataset holds: scores and the report lead with them.
        let challengeIds = Set(source.tasks.tasks.map(\.id))
        var datasetTasks = Set<String>()
        for subset in subsets {
            for puzzle in 0..<max(0, subset.puzzleIndices.count - 1) {
                let task = Augmentation.parse(puzzleName: dataset.puzzleName(identifier: subset.identifier(ofPuzzle: puzzle))).task
                if challengeIds.contains(task) { datasetTasks.insert(task) }
            }
        }

        let predictor = ACTPredictor(model: model, batchSize: batch, haltMaxSteps: config.haltMaxSteps)
        let progress = ProgressReporter(label: "evaluate", unit: .items("examples"), quiet: request.quiet)
        var accumulator = VoteAccumulator(challenges: source.tasks)
        // Every set's predictions in order; the batches are shared out over MPI ranks, if any
        // (EvaluateStage+Distributed.swift).
        let predicted = try predictSharded(subsets, ignoreLabelId: split.metadata.ignoreLabelId, predictor: predictor,
                                           chunk: predictionChunk, progress: progress)
        for (subset, results) in zip(subsets, predicted) {
            let side = subset.side ?? canvas
            for r in results {
                let puzzle = subset.puzzle(ofExample: r.example)
                let name = dataset.puzzleName(identifier: subset.identifier(ofPuzzle: puzzle))
                let grid = SequenceCodec.decode(tokens: r.tokens, canvas: side)
                accumulator.add(Prediction(puzzleName: name, testIndex: r.example - Int(subset.puzzleIndices[puzzle]), grid: grid, qHalt: r.qHalt))
            }
        }
        progress.finish()

        // All outputs are written into a staging folder and swapped in together, so the folder
        // never mixes this run's files with an older run's (e.g. a score.json this run cannot write).
        let vote = VoteOutcome(accumulator: accumulator, challenges: source.tasks)
        let staging = try StagingFolder(for: request.output, kind: .evaluation)
        let submissionURL = request.output.appendingPathComponent("submission.json")
        let predictionsURL = request.output.appendingPathComponent("predictions.jsonl")
        var score: ScoreReport? = nil
        var datasetScore: ScoreReport? = nil
        var scoreNote: String? = nil
        var reportURL: URL? = nil
        var reportError: Error? = nil
        do {
            let stagedSubmission = staging.url.appendingPathComponent("submission.json")
            try vote.write(submissionURL: stagedSubmission, predictionsURL: staging.url.appendingPathComponent("predictions.jsonl"),
                           challenges: source.tasks)
            var solutionsFile: URL? = nil
            var scoresJSON: JSONValue = .null
            if let (solutions, note, file) = solutions(for: source) {
                let report = try SubmissionScorer.score(vote.submission, solutions: solutions, file: submissionURL.path)
                let held = report.restricted(to: datasetTasks)
                score = report
                datasetScore = held
                scoreNote = note
                solutionsFile = file
                func fields(_ r: ScoreReport) -> [(String, JSONValue)] {
                    [("kaggle_score", .double(r.kaggleScore)), ("task_average_score", .double(r.taskAverageScore)),
                     ("pass_at_1", .double(r.pass1)), ("pass_at_2", .double(r.pass2)),
                     ("correct_outputs", .int(r.correctOutputCount)), ("test_outputs", .int(r.testOutputCount)),
                     ("tasks", .int(r.taskCount)), ("tasks_fully_solved", .int(r.fullySolvedTaskCount))]
                }
                // The tasks the dataset holds first (what was trained and predicted), the whole set second.
                scoresJSON = .object([("scope", .string("the \(held.taskCount) tasks of the challenges that the dataset holds"))]
                    + fields(held)
                    + [("whole_set", .object([("scope", .string("all \(report.taskCount) tasks of the challenges (fallback attempts for the tasks the dataset does not hold)"))]
                                           + fields(report))),
                       ("solutions", .string(note))])
                try AtomicFile.write(JSONWriter.text(scoresJSON) + "\n", to: staging.url.appendingPathComponent("score.json"))
            }
            let record: JSONValue = .object([
                ("challenges", .object([("format", .string(source.format)), ("path", .string(source.path.path)),
                                        ("split", source.split.map { .string($0) } ?? .null)])),
                ("run", runDirectory.map { .string($0.path) } ?? .null),
                ("dataset", .string(request.dataset.path)),
                ("examples", .int(exampleCount)), ("halt_max_steps", .int(config.haltMaxSteps)),
                ("dataset_tasks", .array(datasetTasks.sorted().map { .string($0) })),
                ("scores", scoresJSON),
            ])
            try AtomicFile.write(JSONWriter.text(record) + "\n", to: staging.url.appendingPathComponent("evaluation.json"))
            // The report reads the staged files but names the final ones. A report that cannot be
            // made does not cost the submission: the rest is published and the error reported.
            do {
                var input = try ReportBuilder.load(ReportRequest(submissionDirectory: staging.url, runDirectory: runDirectory, solutions: solutionsFile))
                input.title = "arc-pipeline report: \(request.output.lastPathComponent)"
                input.submissionFile = submissionURL.path
                try AtomicFile.write(try HTMLReport.render(input), to: staging.url.appendingPathComponent("report.html"))
                reportURL = request.output.appendingPathComponent("report.html")
            } catch {
                reportError = error
            }
            try staging.publish()
        } catch {
            staging.discard()
            if error is ARCDataError { throw error }
            throw ARCDataError(file: request.output.path, message: "cannot be written: \(OutputFolder.describe(error))")
        }
        if let reportError {
            throw ARCDataError(file: request.output.appendingPathComponent("report.html").path,
                               message: "cannot be made (the other outputs are written): \(OutputFolder.describe(reportError))")
        }
        return EvaluateOutcome(submission: submissionURL, predictions: predictionsURL, report: reportURL, score: score, datasetScore: datasetScore,
                               datasetTaskCount: datasetTasks.count, challengeTaskCount: challengeIds.count, scoreNote: scoreNote,
                               vote: vote, seconds: Date().timeIntervalSince(start), examples: exampleCount)
    }
}
