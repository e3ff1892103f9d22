// `arc-bench all` (also `arc-bench` with no subcommand): sgemm, step and paper in one process.
import ArgumentParser

struct AllCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "all",
        abstract: "sgemm, step and paper in one process.")

    @OptionGroup var options: CommonOptions
    @OptionGroup var shape: StepShapeOptions

    func run() throws {
        options.start()
        let peak = benchSgemm(repeats: options.repeats)
        try benchStep(options: options, shape: shape, peak: peak)
        benchPaper(options: options, architecture: shape.arch)
    }
}
