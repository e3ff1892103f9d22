// The `arc-pipeline` root command: one subcommand per stage (see Commands/).
import ArgumentParser

@main
struct ArcPipeline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "arc-pipeline",
        abstract: "ARC-AGI puzzles to a Kaggle ARC Prize submission with the Hierarchical Reasoning Model, on a plain CPU.",
        subcommands: [FetchCommand.self, BuildDatasetCommand.self, TrainCommand.self, EvaluateCommand.self, TrainEvalCommand.self, ScoreCommand.self, ReportCommand.self])
}
