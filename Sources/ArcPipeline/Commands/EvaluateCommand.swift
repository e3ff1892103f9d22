// `arc-pipeline evaluate`: predict, vote and write the Kaggle submission (+ score and report).
import ARCCore
import ArgumentParser
import Distributed
import Foundation
import Kernels

struct EvaluateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "evaluate",
        abstract: "Predict every augmented test input, vote two attempts per test input, write submission.json.",
        discussion: """
        Writes OUT/submission.json (Kaggle schema, every task of the challenges, validated), OUT/predictions.jsonl
        (ranked candidates per test input), OUT/evaluation.json, OUT/score.json when solutions are known, and
        OUT/report.html. Example:
          arc-pipeline evaluate --dataset arc-data/built/kaggle-aug4 --model runs/kaggle-aug4 --out submissions/kaggle-aug4
        """)

    @Option(help: "Built dataset folder (its test split is predicted).") var dataset: String
    @Option(help: "Run folder (latest checkpoint) or a model.safetensors file.") var model: String
    @Option(help: "Output folder (default submissions/<dataset name>).") var out: String?
    @OptionGroup var data: DataOptions
    @Option(help: "Examples per forward batch (1...4096).") var batchSize: Int = 16
    @Option(help: "ACT steps (default: the model's halt_max_steps; 1...256).") var haltMaxSteps: Int?
    @Option(help: "Threads (default: all cores; 1...256).") var threads: Int = RunArguments.defaultThreads
    @Option(help: ArgumentHelp(PrecisionRequest.help))
    var precision: PrecisionRequest = .auto
    @Flag(help: "No progress output.") var quiet = false

    func validate() throws {
        try OptionRanges.check("--batch-size", batchSize, in: OptionRanges.batchSize)
        try OptionRanges.check("--halt-max-steps", haltMaxSteps, in: OptionRanges.haltMaxSteps)
        try OptionRanges.check("--threads", threads, in: OptionRanges.threads)
    }

    func run() throws {
        try PrecisionOption.configure(precision)
        let datasetURL = URL(fileURLWithPath: dataset).standardizedFileURL
        let request = EvaluateRequest(
            dataset: datasetURL, model: URL(fileURLWithPath: model).standardizedFileURL,
            output: URL(fileURLWithPath: out ?? "submissions/\(datasetURL.lastPathComponent)").standardizedFileURL,
            dataDirectory: data.dataDirectory, batchSize: batchSize, threads: threads, haltMaxSteps: haltMaxSteps, quiet: quiet)
        guard ProcessGroup.world.isRoot else { return try EvaluateStage.runOnWorker(request) }  // MPI ranks 1...
        let outcome = try EvaluateStage.run(request)
        EvaluateCommand.printOutcome(outcome)
    }

    static func printOutcome(_ o: EvaluateOutcome) {
        print("evaluated \(o.examples) augmented test examples in \(String(format: "%.1f", o.seconds)) s")
        for line in o.vote.summaryLines { print("  " + line) }
        if let whole = o.score {
            func line(_ s: ScoreReport) -> String {
                String(format: "Kaggle (per test output) %.4f = %d/%d; per-task average %.4f; pass@1 %.4f; tasks fully solved %d/%d",
                       s.kaggleScore, s.correctOutputCount, s.testOutputCount, s.taskAverageScore, s.pass1, s.fullySolvedTaskCount, s.taskCount)
            }
            if let held = o.datasetScore, held.taskCount < whole.taskCount {
                // A dataset built from some of the challenges is judged on the tasks it holds first.
                print("score on the \(held.taskCount) tasks the dataset holds: " + line(held))
                print("  whole challenges set (\(whole.taskCount) tasks; the other \(whole.taskCount - held.taskCount) get fallback attempts): " + line(whole))
            } else {
                print("score: " + line(whole))
            }
            if let note = o.scoreNote { print("  solutions: \(note)") }
        } else {
            print("score: no solutions known for these tasks")
        }
        print("submission: \(o.submission.path)")
        print("candidates: \(o.predictions.path)")
        if let r = o.report { print("report: \(r.path)") }
    }
}
