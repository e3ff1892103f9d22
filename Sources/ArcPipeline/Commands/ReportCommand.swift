// `arc-pipeline report`: one self-contained HTML page (inline CSS/SVG, no script, no network) showing a
// submission task by task — demonstrations, test inputs, both attempts with votes and mean q, the truth
// with a cell-difference overlay, the next candidates — with the scores (HRM-SPEC §7) and the training
// curves of the run. Reads a submission folder written by train-eval/evaluate; see the Report module.
import ARCCore
import ArgumentParser
import Foundation
import Report

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a self-contained HTML report of a submission (grids, votes, scores, training curves).",
        discussion: """
            SUBMISSION_DIR holds submission.json (required), predictions.jsonl (the candidate table; \
            optional, gives votes and further candidates) and evaluation.json (names the challenges \
            and the run; written by train-eval and evaluate). Without evaluation.json give \
            --challenges (a Kaggle-layout folder with --split, a folder of per-task files, or a \
            challenges file).
            Scores are shown when the test outputs are known (from the challenges or --solutions).
            Open the page in any browser, offline. Example:
              arc-pipeline report submissions/main --out /tmp/report.html
            """)

    @Argument(help: "The submission folder (submission.json, predictions.jsonl, evaluation.json).")
    var submissionDir: String

    @Option(name: .customLong("run"), help: "Training run folder (config.json, metrics.jsonl); default: the run named in evaluation.json.")
    var runDir: String?

    @Option(name: .long, help: "Challenges: Kaggle-layout folder (with --split), folder of task files, or challenges file; default: from evaluation.json.")
    var challenges: String?

    @Option(name: .long, help: "Split of a Kaggle-layout --challenges folder (e.g. evaluation).")
    var split: String?

    @Option(name: .long, help: "Ground truth: Kaggle solutions file, challenges file with outputs, or folder of task files.")
    var solutions: String?

    @Option(name: .long, help: "Output HTML file; default: SUBMISSION_DIR/report.html.")
    var out: String?

    @Option(name: .long, help: "Page title.")
    var title: String?

    @Option(name: .long, help: "A caption shown under the title (e.g. \"demo data\").")
    var note: String?

    func validate() throws {
        if split != nil && challenges == nil { throw ValidationError("--split needs --challenges") }
    }

    func run() throws {
        let request = ReportRequest(
            submissionDirectory: URL(fileURLWithPath: submissionDir),
            runDirectory: runDir.map { URL(fileURLWithPath: $0) },
            challenges: challenges.map { URL(fileURLWithPath: $0) }, split: split,
            solutions: solutions.map { URL(fileURLWithPath: $0) },
            output: out.map { URL(fileURLWithPath: $0) }, title: title, note: note)
        do {
            let written = try ReportBuilder.write(request)
            print(written.path)
        } catch let error as ARCDataError {
            FileHandle.standardError.write(Data("error: \(error.description)\n".utf8))
            throw ExitCode(2)
        }
    }
}
