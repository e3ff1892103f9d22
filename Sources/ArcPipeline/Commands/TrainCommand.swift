// `arc-pipeline train`: train HRM on a built dataset's train split into a run folder.
import ArgumentParser
import Foundation
import Training

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train HRM (ACT, stablemax loss, AdamATan2, sign-SGD puzzle embeddings) on a built dataset.",
        discussion: """
        Writes RUN/config.json, RUN/metrics.jsonl and crash-safe checkpoints RUN/checkpoints/step-N/
        (model.safetensors with the reference's tensor names, state.safetensors for exact resume).
        Ctrl-C or SIGTERM saves a checkpoint and stops; --resume continues exactly where it stopped.
        Example:
          arc-pipeline train --dataset arc-data/built/arc2-aug8 --out runs/arc2 --time-budget 10m
        """)

    @Option(help: "Built dataset folder (from build-dataset).") var dataset: String
    @Option(help: "Run folder (default runs/<dataset name>).") var out: String?
    @Flag(help: "Continue the run in --out from its latest checkpoint.") var resume = false
    @Flag(help: "No progress output.") var quiet = false
    @OptionGroup var model: ModelOptions
    @OptionGroup var trainer: TrainerArguments
    @OptionGroup var runOptions: RunArguments

    func run() throws {
        let datasetURL = URL(fileURLWithPath: dataset).standardizedFileURL
        let runURL = URL(fileURLWithPath: out ?? "runs/\(datasetURL.lastPathComponent)").standardizedFileURL
        let stop = StopRequest()
        stop.installSignalHandlers()
        try PrecisionOption.configure(runOptions.precision, resuming: resume ? runURL : nil)
        let summary = try TrainStage.run(TrainRequest(dataset: datasetURL, runDirectory: runURL, model: model, trainer: trainer,
                                                      run: runOptions, resume: resume, quiet: quiet), stop: stop)
        print("trained steps \(summary.startStep)..\(summary.endStep) in \(String(format: "%.1f", summary.seconds)) s (\(summary.stopReason))")
        if let m = summary.lastMetrics {
            print(String(format: "last interval: lm_loss %.4f, accuracy %.3f, exact_accuracy %.3f, q_halt_accuracy %.3f, mean ACT steps %.2f",
                         m["lm_loss"] ?? 0, m["accuracy"] ?? 0, m["exact_accuracy"] ?? 0, m["q_halt_accuracy"] ?? 0, m["steps"] ?? 0))
        }
        print("run folder: \(runURL.path)")
        if let c = summary.checkpoint { print("checkpoint: \(c.path)") }
    }
}
