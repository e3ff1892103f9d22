// Voting (docs/SPEC.md §7): oracle predictions through all augmentations score 100%; a crafted set of
// predictions gives the exact expected ranking, attempts, fallbacks and scores.
import ARCAugment
import ARCCore
import Voting
import XCTest

final class VotingTests: XCTestCase {
    /// Ground-truth outputs of crafted tasks, passed through every dihedral id x random colour maps
    /// (plus the bare original) as predictions, outvoting some random wrong predictions: 100% on both metrics.
    func testOraclePredictionsThroughAllAugmentationsScorePerfect() throws {
        let tasks = craftedTasks()
        var rng = SplitMix64(seed: 11)
        var predictions = [Prediction]()
        for task in tasks.tasks {
            for (k, pair) in task.test.enumerated() {
                let truth = pair.output!
                predictions.append(Prediction(puzzleName: task.id, testIndex: k, grid: truth, qHalt: 0.3))
                for id in 0..<8 {
                    for _ in 0..<2 {
                        let aug = Augmentation(dihedral: id, colours: ColourMap.random(using: &rng))
                        predictions.append(Prediction(puzzleName: aug.puzzleName(task: task.id), testIndex: k,
                                                      grid: aug.apply(to: truth), qHalt: Float.random(in: -3...3, using: &rng)))
                    }
                }
                // Wrong predictions with high confidence, each a single vote.
                for _ in 0..<5 {
                    let aug = Augmentation(dihedral: Int.random(in: 0..<8, using: &rng), colours: ColourMap.random(using: &rng))
                    var wrong = truth
                    wrong[0, 0] = (truth[0, 0] + UInt8.random(in: 1...9, using: &rng)) % 10
                    predictions.append(Prediction(puzzleName: aug.puzzleName(task: task.id), testIndex: k, grid: aug.apply(to: wrong), qHalt: 9))
                }
                predictions.append(Prediction(puzzleName: task.id, testIndex: k, grid: nil, qHalt: 0))
            }
        }
        predictions.shuffle(using: &rng)
        let outcome = VoteOutcome(predictions: predictions, challenges: tasks)
        XCTAssertTrue(outcome.assembly.fallbacks.isEmpty)
        XCTAssertEqual(outcome.statistics.undecodable, 6)
        XCTAssertEqual(outcome.statistics.votes, 6 * (1 + 16 + 5))
        for entry in outcome.table.entries { XCTAssertEqual(entry.candidates.first?.votes, 17, "\(entry.key)") }

        let solutions = try SolutionSet(tasks: tasks)
        let report = try SubmissionScorer.score(outcome.submission, solutions: solutions, file: "oracle")
        XCTAssertEqual(report.testOutputCount, 6)
        XCTAssertEqual(report.kaggleScore, 1.0)
        XCTAssertEqual(report.taskAverageScore, 1.0)
        XCTAssertEqual(report.pass1, 1.0)
        let pass = try outcome.table.passAtK(solutions: solutions)
        XCTAssertEqual(pass.results.map(\.perOutput), [1, 1, 1, 1])

        // Without undoing the augmentation the same predictions would not be perfect: the check is not vacuous.
        let notUndone = predictions.map { Prediction(puzzleName: Augmentation.parse(puzzleName: $0.puzzleName).task,
                                                     testIndex: $0.testIndex, grid: $0.grid, qHalt: $0.qHalt) }
        let bad = VoteOutcome(predictions: notUndone, challenges: tasks)
        XCTAssertLessThan(try SubmissionScorer.score(bad.submission, solutions: solutions, file: "x").kaggleScore, 1.0)
    }

    // The crafted case. Task "t" has 4 test inputs, task "u" one.
    static let gridA: [[Int]] = [[1, 1], [1, 1]]
    static let gridB: [[Int]] = [[2, 2], [2, 2]]
    static let gridC: [[Int]] = [[3]]
    static let gridD: [[Int]] = [[4, 4, 4]]
    static let gridE: [[Int]] = [[5, 0], [0, 5], [5, 5]]
    static let gridF: [[Int]] = [[6, 6], [6, 6]]
    static let gridG: [[Int]] = [[7, 7, 7]]

    func craftedChallenges() -> TaskSet {
        let any = grid([[0]])
        func tests(_ truths: [[[Int]]]) -> [Pair] { truths.enumerated().map { Pair(input: grid([[9, $0.offset]]), output: grid($0.element)) } }
        return TaskSet(name: "crafted.json", tasks: [
            ARCTask(id: "t", train: [Pair(input: any, output: any)], test: tests([Self.gridB, Self.gridE, Self.gridA, Self.gridC])),
            ARCTask(id: "u", train: [Pair(input: any, output: any)], test: tests([Self.gridF])),
        ])
    }

    func craftedPredictions() -> [Prediction] {
        var p = [Prediction]()
        // Test inputs t/0 and t/3: D 4 votes (low q), B 3 votes q=sigmoid(2), A 3 votes q=0.5, C 1 vote q high.
        // Predictions arrive augmented (transpose, colour map) to exercise the undo.
        let aug = Augmentation(dihedral: 6, colours: ColourMap(digits: "0918273645")!)
        for k in [0, 3] {
            for _ in 0..<4 { p.append(Prediction(puzzleName: aug.puzzleName(task: "t"), testIndex: k, grid: aug.apply(to: grid(Self.gridD)), qHalt: -5)) }
            for _ in 0..<3 { p.append(Prediction(puzzleName: "t", testIndex: k, grid: grid(Self.gridA), qHalt: 0)) }
            for _ in 0..<3 { p.append(Prediction(puzzleName: aug.puzzleName(task: "t"), testIndex: k, grid: aug.apply(to: grid(Self.gridB)), qHalt: 2)) }
            p.append(Prediction(puzzleName: "t", testIndex: k, grid: grid(Self.gridC), qHalt: 10))
        }
        // t/1: a single candidate E (2 votes) fills both attempts.
        p.append(Prediction(puzzleName: "t", testIndex: 1, grid: grid(Self.gridE), qHalt: 1))
        p.append(Prediction(puzzleName: "t_t2_0123456789", testIndex: 1, grid: Dihedral.apply(2, to: grid(Self.gridE)), qHalt: 1))
        // t/2: only undecodable predictions -> fallback.
        p.append(Prediction(puzzleName: "t", testIndex: 2, grid: nil, qHalt: 3))
        // u/0: F and G, one vote each, equal q -> final tie-break: fewer rows first, so G (1x3) before F (2x2).
        p.append(Prediction(puzzleName: "u", testIndex: 0, grid: grid(Self.gridF), qHalt: 0.5))
        p.append(Prediction(puzzleName: "u", testIndex: 0, grid: grid(Self.gridG), qHalt: 0.5))
        // Dropped: unknown task, test index out of range.
        p.append(Prediction(puzzleName: "zz_t1_0123456789", testIndex: 0, grid: grid(Self.gridA), qHalt: 0))
        p.append(Prediction(puzzleName: "u", testIndex: 1, grid: grid(Self.gridA), qHalt: 0))
        return p
    }

    func testCraftedPredictionsRankAssembleAndScoreExactly() throws {
        let challenges = craftedChallenges()
        let outcome = VoteOutcome(predictions: craftedPredictions(), challenges: challenges)

        // Ranking: votes desc, then mean q desc (B before A on a 3-3 tie), then grid order.
        let t0 = try XCTUnwrap(outcome.table["t", 0])
        XCTAssertEqual(t0.candidates.map(\.grid.nestedRows), [Self.gridD, Self.gridB, Self.gridA, Self.gridC])
        XCTAssertEqual(t0.candidates.map(\.votes), [4, 3, 3, 1])
        XCTAssertEqual(t0.candidates[1].meanQ, 1 / (1 + exp(-2.0)), accuracy: 1e-12)
        XCTAssertEqual(t0.candidates[2].meanQ, 0.5, accuracy: 1e-12)
        XCTAssertEqual(outcome.table["t", 2]?.candidates.count, 0)
        XCTAssertEqual(outcome.table["t", 2]?.undecodable, 1)
        XCTAssertEqual(outcome.table["u", 0]?.candidates.map(\.grid.nestedRows), [Self.gridG, Self.gridF])

        // Attempts.
        let t = try XCTUnwrap(outcome.submission["t"])
        XCTAssertEqual(t.map(\.attempt1.nestedRows), [Self.gridD, Self.gridE, [[9, 2]], Self.gridD])
        XCTAssertEqual(t.map(\.attempt2.nestedRows), [Self.gridB, Self.gridE, [[9, 2]], Self.gridB])
        XCTAssertEqual(outcome.submission["u"]?.map(\.attempt1.nestedRows), [Self.gridG])
        XCTAssertEqual(outcome.submission["u"]?.map(\.attempt2.nestedRows), [Self.gridF])
        XCTAssertEqual(outcome.assembly.fallbacks, [TestInputKey(task: "t", testIndex: 2)])
        XCTAssertEqual(outcome.assembly.singleCandidate, 1)
        XCTAssertEqual(outcome.assembly.multipleCandidates, 3)
        XCTAssertEqual(outcome.statistics.unknownTask, 1)
        XCTAssertEqual(outcome.statistics.testIndexOutOfRange, 1)
        XCTAssertEqual(outcome.statistics.undecodable, 1)

        // Scores: t = [B@2 yes, E yes, fallback no, C rank 4 no], u = [F@2 yes].
        let solutions = try SolutionSet(tasks: challenges)
        let report = try SubmissionScorer.score(outcome.submission, solutions: solutions, file: "crafted")
        XCTAssertEqual(report.kaggleScore, 3.0 / 5.0, accuracy: 1e-12)
        XCTAssertEqual(report.taskAverageScore, (2.0 / 4.0 + 1.0) / 2.0, accuracy: 1e-12)
        XCTAssertEqual(report.pass1, 1.0 / 5.0, accuracy: 1e-12)
        XCTAssertEqual(report.pass1TaskAverage, (1.0 / 4.0 + 0) / 2.0, accuracy: 1e-12)
        XCTAssertEqual(report.fullySolvedTaskFraction, 0.5, accuracy: 1e-12)

        let pass = try outcome.table.passAtK(solutions: solutions)
        XCTAssertEqual(pass.results.map(\.k), [1, 2, 5, 10])
        XCTAssertEqual(pass.results.map(\.correctOutputs), [1, 3, 4, 4])
        XCTAssertEqual(pass.results[2].taskAverage, (3.0 / 4.0 + 1.0) / 2.0, accuracy: 1e-12)
        XCTAssertEqual(pass.missingEntries, 0)
    }

    func testRankingDoesNotDependOnPredictionOrder() {
        var rng = SplitMix64(seed: 5)
        let challenges = craftedChallenges()
        // The crafted predictions plus many with random q for one test input (mean q sums in any order).
        var predictions = craftedPredictions()
        for _ in 0..<200 {
            let g = grid([[Int.random(in: 1...3, using: &rng)]])
            predictions.append(Prediction(puzzleName: "u", testIndex: 0, grid: g, qHalt: Float.random(in: -8...8, using: &rng)))
        }
        let reference = Voter.vote(predictions, challenges: challenges).table
        XCTAssertEqual(reference["u", 0]?.candidates.count, 5)
        for _ in 0..<5 {
            // Fed one at a time in a shuffled order.
            var accumulator = VoteAccumulator(challenges: challenges)
            for p in predictions.shuffled(using: &rng) { accumulator.add(p) }
            let table = accumulator.table()
            // Exactly equal, mean q included (fixed-point sums do not depend on the order).
            XCTAssertEqual(table, reference)
        }
    }

    func testFallbacksGiveEveryTestInputAnEntry() throws {
        let challenges = craftedChallenges()
        for fallback in Fallback.allCases {
            let outcome = VoteOutcome(predictions: [], challenges: challenges, fallback: fallback)
            XCTAssertEqual(outcome.assembly.fallbacks.count, 5)
            XCTAssertEqual(outcome.assembly.tasksWithFallback, 2)
            XCTAssertEqual(outcome.submission["t"]?.count, 4)
            XCTAssertEqual(outcome.submission["u"]?.count, 1)
            let expected = fallback == .testInput ? [[9, 1]] : [[0, 0], [0, 0]]
            XCTAssertEqual(outcome.submission["t"]?[1].attempt1.nestedRows, expected)
            XCTAssertEqual(outcome.submission["t"]?[1].attempt2.nestedRows, expected)
            // Valid against the challenges, so it can be written.
            XCTAssertNoThrow(try outcome.submission.validate(against: SubmissionExpectation(challenges: challenges), file: "s"))
        }
    }

    func testInvalidAndNaNPredictionsAreCountedNotVoted() {
        let challenges = craftedChallenges()
        let tooWide = Grid(rows: 1, cols: 31, fill: 1)
        let badColour = Grid(rows: 1, cols: 1, cells: [12])
        let outcome = VoteOutcome(predictions: [
            Prediction(puzzleName: "u", testIndex: 0, grid: tooWide, qHalt: 0),
            Prediction(puzzleName: "u", testIndex: 0, grid: badColour, qHalt: 0),
            Prediction(puzzleName: "u", testIndex: 0, grid: grid([[1]]), qHalt: .nan),
        ], challenges: challenges)
        XCTAssertEqual(outcome.statistics.invalidGrid, 2)
        XCTAssertEqual(outcome.statistics.nanQHalt, 1)
        XCTAssertEqual(outcome.table["u", 0]?.candidates, [Candidate(grid: grid([[1]]), votes: 1, meanQ: 0)])
        XCTAssertEqual(outcome.table["u", 0]?.undecodable, 2)
        XCTAssertEqual(Voter.sigmoid(0), 0.5)
        XCTAssertEqual(Voter.sigmoid(-1000), 0)
        XCTAssertEqual(Voter.sigmoid(1000), 1)
    }

    func testVotingWithoutChallengesSortsKeys() {
        let table = Voter.vote([
            Prediction(puzzleName: "b", testIndex: 1, grid: grid([[1]]), qHalt: 0),
            Prediction(puzzleName: "a_t3_0123456789", testIndex: 0, grid: grid([[1, 2]]), qHalt: 0),
            Prediction(puzzleName: "b", testIndex: 0, grid: nil, qHalt: 0),
        ]).table
        XCTAssertEqual(table.entries.map(\.key), [TestInputKey(task: "a", testIndex: 0), TestInputKey(task: "b", testIndex: 0), TestInputKey(task: "b", testIndex: 1)])
        // t3 (rot270) undone with rot90: [[1,2]] (1x2) came from a 2x1 grid.
        XCTAssertEqual(table["a", 0]?.candidates.first?.grid.nestedRows, [[2], [1]])
    }

    func testOutcomeWritesValidatedSubmissionAndCandidateTable() throws {
        let dir = try temporaryFolder(self)
        let challenges = craftedChallenges()
        let outcome = VoteOutcome(predictions: craftedPredictions(), challenges: challenges)
        let submissionURL = dir.appendingPathComponent("run/submission.json")
        let predictionsURL = dir.appendingPathComponent("run/predictions.jsonl")
        try outcome.write(submissionURL: submissionURL, predictionsURL: predictionsURL, challenges: challenges)
        let expectation = SubmissionExpectation(challenges: challenges)
        XCTAssertEqual(try Submission.load(from: submissionURL, expected: expectation), outcome.submission)
        XCTAssertEqual(try CandidateTable.load(from: predictionsURL), outcome.table)
        XCTAssertEqual(try String(contentsOf: predictionsURL, encoding: .utf8).split(separator: "\n").count, 5)
        XCTAssertTrue(outcome.summaryLines.joined(separator: "\n").contains("fallback: 1 (in 1 tasks, test-input for both attempts)"), outcome.summaryLines.joined(separator: "\n"))
    }
}
