// The `arc-pipeline` root command: one subcommand per stage (see Commands/).
import ArgumentParser
import Distributed
import Foundation
import Kernels

@main
struct ArcPipeline: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "arc-pipeline",
        abstract: "ARC-AGI puzzles to a Kaggle ARC Prize submission with the Hierarchical Reasoning Model, on a plain CPU.",
        subcommands: [FetchCommand.self, BuildDatasetCommand.self, TrainCommand.self, EvaluateCommand.self, TrainEvalCommand.self, ScoreCommand.self, ReportCommand.self, SystemCommand.self])

    /// Switches BLAS to the best kernel set for this CPU (may re-execute the program once), then runs
    /// the command; the commands that compute say which kernels they use in their first line.
    static func main() {
        BLASBackend.ensureBestKernels()
        let arguments = Array(CommandLine.arguments.dropFirst())
        let group = DistributedLaunch.start(arguments: arguments)  // MPI only under a multi-rank launcher
        if let verb = arguments.first, ["train", "evaluate", "train-eval"].contains(verb),
           !arguments.contains("--help"), !arguments.contains("-h") {
            print(BLASBackend.summary)
            if group.isDistributed { print("data parallel: \(group.size) MPI ranks (\(group.libraryVersion))") }
        }
        if group.isDistributed { DistributedLaunch.run(group, arguments: arguments) }
        Self.main(nil)
    }
}
