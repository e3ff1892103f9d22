// Tests of the HTML report: a report built from a crafted run folder has every task, the right grids
// (decoded back cell by cell), the scores of `score` (ScoreRun), the statuses and candidates voted by
// the Voting module, and the training curves; the page is self-contained; a large run stays small;
// missing files give errors that name them; the CLI prints the path.
import ARCCore
import Foundation
import Voting
import XCTest

@testable import Report
import TestHelpers

final class ReportTests: XCTestCase {
    func testGridSVGDrawsEveryCellAndTheDifferences() {
        var rng = SplitMix64(seed: 5)
        for (rows, cols) in [(1, 1), (3, 7), (30, 30), (30, 1), (1, 30), (5, 5)] {
            // Random grids with a dominant colour so the background and the runs both matter.
            var g = randomGrid(rows: rows, cols: cols, using: &rng)
            for i in 0..<g.cells.count where UInt64.random(in: 0..<3, using: &rng) == 0 {
                g = Grid(rows: rows, cols: cols, cells: g.cells.enumerated().map { $0.offset == i ? 0 : $0.element })
            }
            let truth = changed(changed(g, at: 0), at: rows * cols / 2 + (rows * cols > 1 ? 1 : 0))
            let differing = zip(g.cells, truth.cells).filter { $0 != $1 }.count
            let svg = GridSVG.render(g, role: "attempt1", cellSize: 10, truth: truth)
            let drawn = PageReader.grids(svg)
            XCTAssertEqual(drawn.count, 1)
            XCTAssertEqual(drawn.first?.grid, g, "\(rows)x\(cols)")
            XCTAssertEqual(drawn.first?.diff, String(differing), "\(rows)x\(cols)")
            XCTAssertTrue(svg.contains("width=\"\(cols * 10)\" height=\"\(rows * 10)\""), svg)
        }
        let g = Grid(rows: 2, cols: 3, fill: 4)
        let shape = GridSVG.render(g, role: "attempt2", cellSize: 8, truth: Grid(rows: 3, cols: 2, fill: 4))
        XCTAssertEqual(PageReader.grids(shape).first?.diff, "shape")
        XCTAssertFalse(shape.contains("class=\"diff\""))
        // A uniform grid is one background rectangle and no colour path.
        XCTAssertFalse(GridSVG.render(g, role: "x", cellSize: 8).contains("<path class=\"c"))
    }

    func testReportFromCraftedRunFolderHasEveryTaskGridScoreAndCurve() throws {
        let folder = try temporaryFolder(self)
        let run = try CraftedRun.make(in: folder)
        let written = try ReportBuilder.write(ReportRequest(submissionDirectory: run.submissionDirectory))
        XCTAssertEqual(written.path, run.submissionDirectory.appendingPathComponent("report.html").path)
        let html = try String(contentsOf: written, encoding: .utf8)

        // Self-contained: no script, no external resource.
        XCTAssertFalse(html.lowercased().contains("<script"))
        XCTAssertFalse(html.contains("http://") || html.contains("https://") || html.contains("src=") || html.contains("<link"))

        // Every task present once, solved ones first, table of contents links to each.
        let sections = PageReader.taskSections(html)
        XCTAssertEqual(Set(sections.map(\.id)), Set(run.tasks.tasks.map(\.id)))
        XCTAssertEqual(sections.count, run.tasks.tasks.count)
        // Fully solved first, then partly solved, then wrong; by id within a status.
        XCTAssertEqual(sections.map(\.id), ["t2second", "t4many", "t1solved", "t3none"])
        XCTAssertEqual(sections.map(\.status), ["st-solved", "st-solved", "st-partial", "st-wrong"])
        for t in run.tasks.tasks { XCTAssertTrue(html.contains("href=\"#task-\(t.id)\""), t.id) }

        let submission = try Submission.load(from: run.submissionDirectory.appendingPathComponent("submission.json"))
        let table = try CandidateTable.load(from: run.submissionDirectory.appendingPathComponent("predictions.jsonl"))
        for section in sections {
            let task = run.tasks.task(id: section.id)!
            let grids = PageReader.grids(section.body)
            func role(_ r: String) -> [Grid] { grids.filter { $0.role == r }.map(\.grid) }
            // Demonstrations, test inputs, attempts and truths: the right number and every cell.
            XCTAssertEqual(role("demo-input"), task.train.map(\.input), section.id)
            XCTAssertEqual(role("demo-output"), task.train.map { $0.output! }, section.id)
            XCTAssertEqual(role("test-input"), task.test.map(\.input), section.id)
            XCTAssertEqual(role("truth"), task.test.map { $0.output! }, section.id)
            XCTAssertEqual(role("attempt1"), submission[task.id]!.map(\.attempt1), section.id)
            XCTAssertEqual(role("attempt2"), submission[task.id]!.map(\.attempt2), section.id)
            // Next candidates: those not submitted, best first, at most 5 per test input.
            var expectedNext = [Grid]()
            for k in task.test.indices {
                let attempts = submission[task.id]![k]
                let ranked = table[task.id, k]!.candidates.filter { $0.grid != attempts.attempt1 && $0.grid != attempts.attempt2 }
                expectedNext += ranked.prefix(5).map(\.grid)
            }
            XCTAssertEqual(role("candidate"), expectedNext, section.id)
            // Votes, share and mean q of each submitted attempt, as in the candidate table.
            for k in task.test.indices {
                let entry = table[task.id, k]!
                let total = entry.candidates.reduce(0) { $0 + $1.votes }
                for (number, grid) in [(1, submission[task.id]![k].attempt1), (2, submission[task.id]![k].attempt2)] {
                    guard let rank = entry.candidates.firstIndex(where: { $0.grid == grid }) else {
                        XCTAssertTrue(section.body.contains("<b>attempt \(number)</b>") && section.body.contains("fallback (no candidate)"), section.id)
                        continue
                    }
                    let c = entry.candidates[rank]
                    let text = "#\(rank + 1) · \(c.votes) vote\(c.votes == 1 ? "" : "s") (\(String(format: "%.0f", Double(c.votes) / Double(total) * 100))%) · q \(String(format: "%.2f", c.meanQ))"
                    XCTAssertTrue(section.body.contains(text), "\(section.id) test \(k) attempt \(number): \(text)")
                }
            }
            XCTAssertEqual(grids.count, 2 * task.train.count + 4 * task.test.count + expectedNext.count, section.id)
            // Wrong attempts of the right shape carry the cell-difference count.
            for g in grids where g.role.hasPrefix("attempt") {
                if let d = g.diff, let n = Int(d) { XCTAssertGreaterThan(n, 0, section.id) }
            }
            // Per-test statuses as crafted.
            let tests = PageReader.elements(section.body, open: "<div class=\"test ", close: "data-test=")
            XCTAssertEqual(tests.map { String($0.dropFirst("<div class=\"test st-".count).prefix { $0 != "\"" }) },
                           run.expected[task.id]!.map(\.status), section.id)
        }
        // t4many: 9 candidates, the attempts are #1 and #2, so 5 shown and "+2 more".
        XCTAssertTrue(sections.first { $0.id == "t4many" }!.body.contains("+2 more"))
        // t1solved test 2: the truth is the 4th candidate.
        XCTAssertTrue(sections.first { $0.id == "t1solved" }!.body.contains("truth is candidate #4 (not submitted)"))

        // Scores: the same numbers as `arc-pipeline score` (ScoreRun) prints.
        let score = try ScoreRun.run(submissionPath: run.submissionDirectory.appendingPathComponent("submission.json").path,
                                     solutionsPath: run.tasksDirectory.path, challengesPath: nil,
                                     candidatesPath: run.submissionDirectory.appendingPathComponent("predictions.jsonl").path)
        let r = score.report
        func pct(_ x: Double) -> String { String(format: "%.2f%%", x * 100) }
        XCTAssertEqual(PageReader.metric("kaggle_score", in: html), pct(r.kaggleScore))
        XCTAssertEqual(PageReader.metric("task_average_score", in: html), pct(r.taskAverageScore))
        XCTAssertEqual(PageReader.metric("pass_at_1", in: html), pct(r.pass1))
        XCTAssertEqual(PageReader.metric("fully_solved", in: html), "\(r.fullySolvedTaskCount) / \(r.taskCount)")
        XCTAssertTrue(score.text(includeTable: false).contains("= \(pct(r.kaggleScore))"))
        for p in score.passAtK!.results {
            XCTAssertEqual(PageReader.metric("pass_at_k_\(p.k)", in: html), "\(p.correctOutputs)/\(p.testOutputs) = \(pct(p.perOutput))")
        }
        // The crafted outcome (see CraftedRun): t1solved test 1, t2second and t4many solved; t1solved test 2 and
        // t3none test 3 wrong; t3none tests 1 and 2 without a candidate.
        XCTAssertEqual(r.correctOutputCount, 3)
        XCTAssertEqual(r.testOutputCount, 7)
        XCTAssertEqual(PageReader.metric("count_solved", in: html), "3")
        XCTAssertEqual(PageReader.metric("count_wrong", in: html), "2")
        XCTAssertEqual(PageReader.metric("count_no_candidate", in: html), "2")

        // Run: training facts and hyperparameters, and one chart per metric group present.
        XCTAssertEqual(PageReader.metric("train_seconds", in: html), "2 min 06 s")
        XCTAssertEqual(PageReader.metric("steps", in: html), "40")
        XCTAssertTrue(html.contains("data-config=\"hidden_size\">64<"))
        XCTAssertTrue(html.contains("extra_key"))
        let charts = PageReader.elements(html, open: "<svg class=\"chart\"", close: "</svg>")
        XCTAssertEqual(charts.compactMap { PageReader.attribute("data-title", in: $0) },
                       ["LM loss", "Accuracy", "Q-halt accuracy", "Mean ACT steps"])
        let accuracy = charts[1]
        XCTAssertEqual(PageReader.attribute("data-series", in: accuracy), "2")
        XCTAssertEqual(PageReader.elements(charts[2], open: "<path class=\"cs\" data-points=\"", close: "\"").count, 1)
        XCTAssertTrue(charts[2].contains("data-points=\"3\""), "q_halt_accuracy is missing on one of the 4 lines")
    }

    func testUnknownTruthKaggleLayoutAndOutputOption() throws {
        let folder = try temporaryFolder(self)
        let run = try CraftedRun.make(in: folder)
        // A Kaggle-layout test split: challenges without outputs, no solutions file.
        let kaggle = folder.appendingPathComponent("kaggle")
        let challenges = "{" + run.tasks.tasks.map { "\"\($0.id)\":" + taskJSON($0, includeTestOutputs: false) }.joined(separator: ",") + "}"
        try AtomicFile.write(challenges, to: kaggle.appendingPathComponent("arc-agi_test_challenges.json"))
        let out = folder.appendingPathComponent("elsewhere/page.html")
        let written = try ReportBuilder.write(ReportRequest(submissionDirectory: run.submissionDirectory, challenges: kaggle, split: "test", output: out))
        XCTAssertEqual(written, out)
        let html = try String(contentsOf: out, encoding: .utf8)
        XCTAssertEqual(PageReader.metric("kaggle_score", in: html), "n/a")
        let sections = PageReader.taskSections(html)
        XCTAssertEqual(sections.count, 4)
        // Without truth: "no truth", except test inputs without a candidate (t3none tests 1 and 2).
        XCTAssertEqual(sections.map(\.status), ["st-no-candidate", "st-unknown", "st-unknown", "st-unknown"])
        XCTAssertEqual(sections.first?.id, "t3none")
        XCTAssertTrue(PageReader.grids(html).allSatisfy { $0.role != "truth" && $0.diff == nil })
        XCTAssertEqual(PageReader.metric("count_unknown", in: html), "5")
        XCTAssertEqual(PageReader.metric("count_no_candidate", in: html), "2")
        XCTAssertTrue(html.contains("id=\"f-unknown\"") && html.contains("id=\"f-no-candidate\"") && !html.contains("id=\"f-solved\""))

        // The same challenges with --solutions give scores again.
        let withTruth = try HTMLReport.render(try ReportBuilder.load(ReportRequest(
            submissionDirectory: run.submissionDirectory, challenges: kaggle, split: "test", solutions: run.tasksDirectory)))
        XCTAssertEqual(PageReader.metric("count_solved", in: withTruth), "3")
    }

    func testRelativePathsInEvaluationJSONResolveBesideTheSubmission() throws {
        let folder = try temporaryFolder(self)
        let run = try CraftedRun.make(in: folder)
        // Paths relative to the submission folder (the working folder is elsewhere).
        XCTAssertFalse(FileManager.default.fileExists(atPath: "../tasks"))
        try AtomicFile.write("""
            {"challenges": {"format": "directory", "path": "../tasks", "split": null}, "run": "../run", "scores": null}
            """, to: run.submissionDirectory.appendingPathComponent("evaluation.json"))
        let input = try ReportBuilder.load(ReportRequest(submissionDirectory: run.submissionDirectory))
        XCTAssertEqual(input.challenges.tasks.map(\.id).sorted(), ["t1solved", "t2second", "t3none", "t4many"])
        XCTAssertEqual(input.config?.number("hidden_size"), 64)
        XCTAssertEqual(input.metrics?.records.count, 4)
        XCTAssertTrue(input.notices.isEmpty, "\(input.notices)")
        // A bad evaluation.json names the field.
        try AtomicFile.write("{\"challenges\": {\"format\": \"kaggle\", \"path\": \"x\", \"split\": null}}",
                             to: run.submissionDirectory.appendingPathComponent("evaluation.json"))
        XCTAssertThrowsError(try ReportBuilder.load(ReportRequest(submissionDirectory: run.submissionDirectory))) { error in
            XCTAssertEqual((error as? ARCDataError)?.field, "challenges.split", "\(error)")
        }
    }

    func testMissingFilesGiveErrorsNamingThem() throws {
        let folder = try temporaryFolder(self)
        let run = try CraftedRun.make(in: folder)
        func expectError(_ request: ReportRequest, fileSuffix: String, message: String, line: UInt = #line) {
            XCTAssertThrowsError(try ReportBuilder.write(request), line: line) { error in
                guard let e = error as? ARCDataError else { return XCTFail("\(error)", line: line) }
                XCTAssertTrue(e.file.hasSuffix(fileSuffix), e.description, line: line)
                XCTAssertTrue(e.message.contains(message), e.description, line: line)
                XCTAssertFalse(e.description.contains("\n"), line: line)
            }
        }
        let fm = FileManager.default
        // evaluation.json names a run folder; an explicit --run that does not exist is an error.
        expectError(ReportRequest(submissionDirectory: run.submissionDirectory, runDirectory: folder.appendingPathComponent("nope")),
                    fileSuffix: "nope", message: "no such run folder")
        try fm.removeItem(at: run.submissionDirectory.appendingPathComponent("submission.json"))
        expectError(ReportRequest(submissionDirectory: run.submissionDirectory), fileSuffix: "submission.json", message: "no such file")
        try fm.removeItem(at: run.submissionDirectory.appendingPathComponent("evaluation.json"))
        expectError(ReportRequest(submissionDirectory: run.submissionDirectory), fileSuffix: "evaluation.json", message: "--challenges")
        expectError(ReportRequest(submissionDirectory: folder.appendingPathComponent("missing")), fileSuffix: "missing", message: "no such submission folder")

        // Optional files: predictions.jsonl and the run's metrics become notices, not errors.
        let other = try CraftedRun.make(in: folder.appendingPathComponent("second"))
        try fm.removeItem(at: other.submissionDirectory.appendingPathComponent("predictions.jsonl"))
        try fm.removeItem(at: other.runDirectory.appendingPathComponent("metrics.jsonl"))
        let html = try String(contentsOf: try ReportBuilder.write(ReportRequest(submissionDirectory: other.submissionDirectory)), encoding: .utf8)
        XCTAssertTrue(html.contains("predictions.jsonl not found"))
        XCTAssertTrue(html.contains("metrics.jsonl not found"))
        XCTAssertFalse(html.contains("<svg class=\"chart\""))
        XCTAssertEqual(PageReader.metric("count_solved", in: html), "3")
        // Without a candidate table nothing is "no candidate": the fallbacks are simply wrong.
        XCTAssertEqual(PageReader.metric("count_no_candidate", in: html), "0")
        XCTAssertEqual(PageReader.metric("count_wrong", in: html), "4")
    }

    /// 120 tasks x 1000 predictions per test input, 300 distinct candidates each: the page shows the top
    /// candidates only, so its size does not grow with the number of candidates.
    func testLargeRunStaysSmall() throws {
        var rng = SplitMix64(seed: 99)
        var tasks = [ARCTask]()
        var entries = [RankedCandidates]()
        var entriesFew = [RankedCandidates]()
        var answers = [(String, [Attempts])]()
        for t in 0..<120 {
            let id = String(format: "task%03d", t)
            let truth = randomGrid(rows: 12, cols: 12, using: &rng)
            tasks.append(ARCTask(id: id, train: (0..<3).map { _ in Pair(input: randomGrid(rows: 12, cols: 12, using: &rng), output: randomGrid(rows: 12, cols: 12, using: &rng)) },
                                 test: [Pair(input: randomGrid(rows: 12, cols: 12, using: &rng), output: truth)]))
            var candidates = [Candidate]()
            var remaining = 1000
            for n in 0..<300 {
                let votes = max(1, min(remaining - (299 - n), 300 - n))
                remaining -= votes
                candidates.append(Candidate(grid: changed(truth, at: n + (t % 2)), votes: votes, meanQ: 0.5))
            }
            entries.append(RankedCandidates(key: TestInputKey(task: id, testIndex: 0), candidates: candidates))
            entriesFew.append(RankedCandidates(key: TestInputKey(task: id, testIndex: 0), candidates: Array(candidates.prefix(7))))
            answers.append((id, [Attempts(attempt1: candidates[0].grid, attempt2: candidates[1].grid)]))
        }
        let set = TaskSet(name: "large", tasks: tasks)
        func page(_ e: [RankedCandidates]) throws -> String {
            try HTMLReport.render(ReportInput(title: "large", challenges: set, challengesDescription: "large", submission: Submission(answers),
                                              submissionFile: "submission.json", candidates: CandidateTable(e),
                                              solutions: try SolutionSet(tasks: set)))
        }
        let start = Date()
        let html = try page(entries)
        let seconds = Date().timeIntervalSince(start)
        let few = try page(entriesFew)
        print("large page: \(html.utf8.count) bytes, rendered in \(seconds) s")
        let parseStart = Date()
        defer { print("parsing the page back took \(Date().timeIntervalSince(parseStart)) s") }
        XCTAssertEqual(PageReader.taskSections(html).count, 120)
        XCTAssertEqual(PageReader.grids(html).filter { $0.role == "candidate" }.count, 120 * 5)
        XCTAssertLessThan(Double(html.utf8.count), Double(few.utf8.count) * 1.05, "size must not grow with the candidates beyond the top 7")
        XCTAssertLessThan(html.utf8.count, 8_000_000, "page too large: \(html.utf8.count) bytes")
        XCTAssertLessThan(seconds, 20, "rendering took \(seconds) s")
        // Every candidate differs from the truth in one cell: nothing solved, all wrong.
        XCTAssertEqual(PageReader.metric("count_solved", in: html), "0")
        XCTAssertEqual(PageReader.metric("count_wrong", in: html), "120")
    }

    func testMetricsLogReadsMissingKeysAndToleratesATruncatedLastLine() throws {
        let text = "{\"step\": 1, \"lm_loss\": 2.5}\n\n{\"step\": 2, \"accuracy\": 0.5, \"note\": \"x\"}\n{\"step\": 3, \"lm_lo"
        let log = try MetricsLog.decode(Data(text.utf8), file: "metrics.jsonl")
        XCTAssertEqual(log.records.count, 2)
        XCTAssertEqual(log.series("lm_loss").map(\.y), [2.5])
        XCTAssertEqual(log.series("accuracy").map(\.x), [2])
        XCTAssertEqual(log.last("step"), 2)
        XCTAssertThrowsError(try MetricsLog.decode(Data("{\"step\": 1}\n{bad}\n{\"step\": 2}\n".utf8), file: "m.jsonl")) { error in
            XCTAssertTrue((error as? ARCDataError)?.file == "m.jsonl:2", "\(error)")
        }
    }

    func testNiceTicksCoverTheRange() {
        let ticks = LineChartSVG.niceTicks(low: 0.13, high: 2.47)
        XCTAssertEqual(ticks.first!, 0, accuracy: 1e-12)
        XCTAssertGreaterThanOrEqual(ticks.last!, 2.47)
        XCTAssertEqual(ticks, [0, 0.5, 1, 1.5, 2, 2.5])
        XCTAssertEqual(LineChartSVG.niceTicks(low: 10, high: 2000), [0, 500, 1000, 1500, 2000])
        XCTAssertGreaterThanOrEqual(LineChartSVG.niceTicks(low: 5, high: 5).count, 2)
        XCTAssertEqual(LineChartSVG.thin((0..<1000).map { (x: Double($0), y: 0) }, maxPoints: 10).map(\.x).last, 999)
    }

    // MARK: The command

    func testHugeCountsInPredictionsAreRefusedAndTheSumsSaturate() throws {
        let folder = try temporaryFolder(self)
        let run = try CraftedRun.make(in: folder)
        let predictionsURL = run.submissionDirectory.appendingPathComponent("predictions.jsonl")
        let original = try String(contentsOf: predictionsURL, encoding: .utf8)
        // The first line's first "votes" and its "undecodable", each set to Int.max in turn.
        for (key, field) in [("\"votes\":", "candidates[0].votes"), ("\"undecodable\":", "undecodable")] {
            let range = original.range(of: key)!
            let end = original[range.upperBound...].firstIndex { $0 == "," || $0 == "}" }!
            try AtomicFile.write(original.replacingCharacters(in: range.upperBound..<end, with: "\(Int.max)"), to: predictionsURL)
            XCTAssertThrowsError(try ReportBuilder.write(ReportRequest(submissionDirectory: run.submissionDirectory)), field) { error in
                guard let e = error as? ARCDataError else { return XCTFail("\(field): \(error)") }
                XCTAssertEqual(e.file, predictionsURL.path + ":1")
                XCTAssertEqual(e.field, field)
                XCTAssertTrue(e.message.contains("is \(Int.max), expected"), e.description)
            }
        }

        // A table made in code is not bounded: the page's sums stop at Int.max.
        try AtomicFile.write(original, to: predictionsURL)
        var input = try ReportBuilder.load(ReportRequest(submissionDirectory: run.submissionDirectory))
        let truth = run.tasks.tasks[0].test[0].output!
        input.candidates = CandidateTable([
            RankedCandidates(key: TestInputKey(task: "t1solved", testIndex: 0), candidates: [
                Candidate(grid: truth, votes: Int.max, meanQ: 0.9), Candidate(grid: changed(truth, at: 0), votes: Int.max, meanQ: 0.5),
            ] + (1...7).map { Candidate(grid: Grid(rows: 1, cols: $0, fill: 5), votes: Int.max - $0, meanQ: 0.1) }, undecodable: Int.max),
            RankedCandidates(key: TestInputKey(task: "t2second", testIndex: 0), candidates: [], undecodable: Int.max),
        ])
        let html = try HTMLReport.render(input)
        XCTAssertTrue(html.contains("\(Int.max) over 2 test inputs: \(Int.max) votes for 9 distinct candidates, \(Int.max) undecodable"))
        XCTAssertTrue(html.contains("\(Int.max) predictions · 9 distinct candidates"))
    }

    func testDurationsOfEveryDoubleAreText() {
        XCTAssertEqual(HTMLReport.duration(12.5), "12.5 s")
        XCTAssertEqual(HTMLReport.duration(125.5), "2 min 06 s")
        XCTAssertEqual(HTMLReport.duration(3725), "1 h 02 min 05 s")
        XCTAssertEqual(HTMLReport.duration(HTMLReport.longestDuration), "876000 h 00 min 00 s")
        XCTAssertEqual(HTMLReport.duration(1e300), "? (1e+300 s)")
        XCTAssertEqual(HTMLReport.duration(-1e300), "? (-1e+300 s)")
        XCTAssertEqual(HTMLReport.duration(-1), "? (-1 s)")
        for seconds in [Double(Int.max), 1e19, .infinity, -.infinity, .nan, -.leastNonzeroMagnitude, .greatestFiniteMagnitude] {
            XCTAssertTrue(HTMLReport.duration(seconds).hasPrefix("? ("), "\(seconds)")
        }
        // Tick labels of curves whose ticks rounding made equal (a step of 0) or that a bad range broke.
        for step in [0, -1, .nan] as [Double] { XCTAssertEqual(LineChartSVG.tickLabel(5.5, step: step), "5.500000") }
    }

    func testReportCommandShowsTrainingTimesOutOfRangeWithAQuestionMark() throws {
        let folder = try temporaryFolder(self)
        let run = try CraftedRun.make(in: folder)
        let configURL = run.runDirectory.appendingPathComponent("config.json")
        let metricsURL = run.runDirectory.appendingPathComponent("metrics.jsonl")
        let config = try String(contentsOf: configURL, encoding: .utf8), metrics = try String(contentsOf: metricsURL, encoding: .utf8)
        let lastElapsed = "\"elapsed_seconds\": 120.0}\n"
        XCTAssertTrue(metrics.hasSuffix(lastElapsed), metrics)
        // train_seconds in config.json, else the last elapsed_seconds of metrics.jsonl.
        for (seconds, inConfig) in [("1e300", true), ("-1e300", true), ("-1e300", false), ("1e300", false)] {
            try AtomicFile.write(inConfig ? config.replacingOccurrences(of: "\"train_seconds\": 125.5", with: "\"train_seconds\": \(seconds)")
                                          : config.replacingOccurrences(of: "\"train_seconds\": 125.5, ", with: ""), to: configURL)
            try AtomicFile.write(inConfig ? metrics : String(metrics.dropLast(lastElapsed.count)) + "\"elapsed_seconds\": \(seconds)}\n", to: metricsURL)
            let out = folder.appendingPathComponent("r.html").path
            let result = try runPipeline(["report", run.submissionDirectory.path, "--out", out])
            XCTAssertEqual(result.status, 0, "\(seconds) in \(inConfig ? "config.json" : "metrics.jsonl"): \(result.stderr)")
            let html = try String(contentsOfFile: out, encoding: .utf8)
            XCTAssertEqual(PageReader.metric("train_seconds", in: html), "? (\(seconds == "1e300" ? "1e+300" : "-1e+300") s)")
        }
    }

    func runPipeline(_ arguments: [String]) throws -> (status: Int32, stdout: String, stderr: String) {
        try PipelineExecutable.run(arguments)
    }

    func testReportCommandPrintsThePathAndFailsWithOneLine() throws {
        let folder = try temporaryFolder(self)
        let run = try CraftedRun.make(in: folder)
        let out = folder.appendingPathComponent("r.html").path
        let ok = try runPipeline(["report", run.submissionDirectory.path, "--out", out, "--note", "crafted"])
        XCTAssertEqual(ok.status, 0, ok.stderr)
        XCTAssertEqual(ok.stdout, out + "\n")
        XCTAssertTrue(try String(contentsOfFile: out, encoding: .utf8).contains("crafted"))
        let bad = try runPipeline(["report", folder.path])
        XCTAssertNotEqual(bad.status, 0)
        XCTAssertEqual(bad.stderr.split(separator: "\n").count, 1, bad.stderr)
        XCTAssertTrue(bad.stderr.hasPrefix("error: ") && bad.stderr.contains("evaluation.json"), bad.stderr)
    }
}
