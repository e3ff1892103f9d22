// The ACT trainer on several example sources (canvas buckets): batches come from one bucket
// at a time, buckets advance in epochs at the same rate, the state file of a one-bucket run
// keeps the v1 format, and a multi-bucket run resumes bit-identically from its v2 state.
import Foundation
import HRM
import Kernels
@testable import Training
import XCTest

final class BucketTrainingTests: XCTestCase {
    /// `puzzles` puzzles of `size` examples, one group per two puzzles, identifiers from `firstIdentifier`.
    /// With `side`, examples are side x side crops of the model's canvas.
    static func source(puzzles: Int, size: Int, firstIdentifier: Int32, seed: UInt64, side: Int? = nil) -> ArrayExampleSource {
        var rng = SplitMix64(seed: seed)
        var inputs = [Int32](), labels = [Int32]()
        let tokens = side.map { $0 * $0 } ?? 9
        for _ in 0..<(puzzles * size) {
            let row = (0..<tokens).map { _ in Int32(2 + rng.next() % 10) }
            inputs += row
            labels += row.map { ($0 - 2 + 1) % 10 + 2 }
        }
        return ArrayExampleSource(sequenceLength: tokens, inputs: inputs, labels: labels,
                                  puzzleOffsets: (0...puzzles).map { $0 * size }, groupOffsets: Array(stride(from: 0, through: puzzles, by: 2)),
                                  identifiers: (0..<puzzles).map { firstIdentifier + Int32($0) }, canvasSide: side)
    }

    /// Bucket A: 4 puzzles (2 groups) of 3 examples; bucket B: 2 puzzles (1 group) of 2 examples.
    static func twoBuckets() -> [ExampleSource] {
        [source(puzzles: 4, size: 3, firstIdentifier: 1, seed: 1), source(puzzles: 2, size: 2, firstIdentifier: 5, seed: 2)]
    }

    func makeModel() -> HRMModel<Float> {
        let m = HRMModel<Float>(config: ResumeTests.tinyConfig(), maxBatch: 4)
        m.parameters.initialize(seed: 3)
        return m
    }

    func temporaryRun() throws -> URL {
        let u = FileManager.default.temporaryDirectory.appendingPathComponent("arc-buckets-\(UUID().uuidString.prefix(8))")
        try FileManager.default.createDirectory(at: u, withIntermediateDirectories: true)
        return u
    }

    func testStepsFollowEachBucketsEpochLength() throws {
        let trainer = try ACTTrainer(model: makeModel(), buckets: Self.twoBuckets(), options: ResumeTests.options())
        // Expected examples per epoch: A 2 groups x 3 = 6, B 1 group x 2 = 2; batch 4 -> 1.5 and 0.5 batches.
        XCTAssertEqual(trainer.buckets[0].batchesPerEpoch, 1.5, accuracy: 1e-12)
        XCTAssertEqual(trainer.buckets[1].batchesPerEpoch, 0.5, accuracy: 1e-12)
        var identifiersSeen = [Set<Int32>(), Set<Int32>()]
        for _ in 0..<40 {
            let index = TrainingBucket.next(trainer.buckets)
            try trainer.trainStep()
            // Every slot of the step's batch holds an example of the bucket that was chosen.
            identifiersSeen[index].formUnion(trainer.buckets[index].currentIdentifiers)
        }
        XCTAssertEqual(trainer.buckets[0].draws + trainer.buckets[1].draws, 40)
        XCTAssertEqual(trainer.buckets[0].draws, 30, "draws split 3:1 like the buckets' batches per epoch")
        XCTAssertEqual(trainer.buckets[1].draws, 10)
        XCTAssertTrue(identifiersSeen[0].isSubset(of: [1, 2, 3, 4]), "bucket A's carry only ever holds A's puzzles: \(identifiersSeen[0])")
        XCTAssertTrue(identifiersSeen[1].isSubset(of: [5, 6]), "bucket B's carry only ever holds B's puzzles: \(identifiersSeen[1])")
    }

    func testOneBucketKeepsTheV1StateFormat() throws {
        let dir = try temporaryRun()
        defer { try? FileManager.default.removeItem(at: dir) }
        let session = try TrainingSession(runDirectory: dir, model: makeModel(), data: ResumeTests.tinyData(), options: ResumeTests.options(), resume: false)
        var plan = TrainingPlan(maxSteps: 2)
        plan.quiet = true
        let summary = try session.run(plan, stop: StopRequest())
        let state = try SafeTensorsFile.read(try XCTUnwrap(summary.checkpoint).appendingPathComponent("state.safetensors"))
        XCTAssertEqual(state.metadata["format"], "arc-pipeline-train-state-v1")
        XCTAssertNotNil(state["act.carry"])
        XCTAssertNil(state.metadata["buckets"])
    }

    func testTwoBucketRunResumesBitIdentically() throws {
        KernelThreads.configure(threads: 1)
        defer { KernelThreads.configure(threads: 0) }
        let n = 6
        var plan = TrainingPlan(maxSteps: 2 * n)
        plan.quiet = true
        plan.logInterval = 1
        let straightDir = try temporaryRun(), splitDir = try temporaryRun()
        defer { try? FileManager.default.removeItem(at: straightDir); try? FileManager.default.removeItem(at: splitDir) }
        let straight = try TrainingSession(runDirectory: straightDir, model: makeModel(), buckets: Self.twoBuckets(), options: ResumeTests.options(), resume: false)
        _ = try straight.run(plan, stop: StopRequest())

        let first = try TrainingSession(runDirectory: splitDir, model: makeModel(), buckets: Self.twoBuckets(), options: ResumeTests.options(), resume: false)
        plan.maxSteps = n
        let summary = try first.run(plan, stop: StopRequest())
        let state = try SafeTensorsFile.read(try XCTUnwrap(summary.checkpoint).appendingPathComponent("state.safetensors"))
        XCTAssertEqual(state.metadata["format"], "arc-pipeline-train-state-v2")
        XCTAssertEqual(state.metadata["buckets"], "2")
        XCTAssertNotNil(state["bucket1.act.carry"])
        let fresh = HRMModel<Float>(config: ResumeTests.tinyConfig(), maxBatch: 4)
        let second = try TrainingSession(runDirectory: splitDir, model: fresh, buckets: Self.twoBuckets(), options: ResumeTests.options(), resume: true)
        XCTAssertEqual(second.trainer.buckets.map(\.draws), first.trainer.buckets.map(\.draws))
        plan.maxSteps = 2 * n
        _ = try second.run(plan, stop: StopRequest())

        let a = straight.trainer.model.parameters.values.array + straight.trainer.model.parameters.puzzleEmbedding.array
        let b = fresh.parameters.values.array + fresh.parameters.puzzleEmbedding.array
        var differing = 0
        for i in 0..<a.count where a[i].bitPattern != b[i].bitPattern { differing += 1 }
        XCTAssertEqual(differing, 0, "2N straight steps and N + resume + N differ in \(differing) of \(a.count) values")
    }

    /// A model on a 5 x 5 position canvas trained on two buckets of sides 3 and 5 (9 and 25 tokens
    /// per example): steps alternate geometries, and resume is bit-identical.
    func testBucketsOfDifferentSidesTrainAndResume() throws {
        KernelThreads.configure(threads: 1)
        defer { KernelThreads.configure(threads: 0) }
        var config = ResumeTests.tinyConfig()
        config.seqLen = 25
        func model() -> HRMModel<Float> {
            let m = HRMModel<Float>(config: config, maxBatch: 4)
            m.parameters.initialize(seed: 3)
            return m
        }
        func buckets() -> [ExampleSource] {
            [Self.source(puzzles: 4, size: 3, firstIdentifier: 1, seed: 1, side: 3), Self.source(puzzles: 2, size: 2, firstIdentifier: 5, seed: 2, side: 5)]
        }
        let n = 5
        var plan = TrainingPlan(maxSteps: 2 * n)
        plan.quiet = true
        let straightDir = try temporaryRun(), splitDir = try temporaryRun()
        defer { try? FileManager.default.removeItem(at: straightDir); try? FileManager.default.removeItem(at: splitDir) }
        let straight = try TrainingSession(runDirectory: straightDir, model: model(), buckets: buckets(), options: ResumeTests.options(), resume: false)
        _ = try straight.run(plan, stop: StopRequest())
        XCTAssertEqual(straight.trainer.buckets.map(\.seqLen), [9, 25])
        XCTAssertTrue(straight.trainer.buckets.allSatisfy { $0.draws > 0 }, "both buckets trained")
        let first = try TrainingSession(runDirectory: splitDir, model: model(), buckets: buckets(), options: ResumeTests.options(), resume: false)
        plan.maxSteps = n
        _ = try first.run(plan, stop: StopRequest())
        let fresh = HRMModel<Float>(config: config, maxBatch: 4)
        let second = try TrainingSession(runDirectory: splitDir, model: fresh, buckets: buckets(), options: ResumeTests.options(), resume: true)
        plan.maxSteps = 2 * n
        _ = try second.run(plan, stop: StopRequest())
        let a = straight.trainer.model.parameters.values.array + straight.trainer.model.parameters.puzzleEmbedding.array
        let b = fresh.parameters.values.array + fresh.parameters.puzzleEmbedding.array
        XCTAssertEqual(a.map(\.bitPattern), b.map(\.bitPattern), "bucketed run: straight vs resumed parameters")
        XCTAssertNotEqual(a, model().parameters.values.array + model().parameters.puzzleEmbedding.array, "training changed the parameters")
    }

    func testASideTheModelCannotTakeIsAnError() throws {
        // The model's canvas is 3 x 3 (seq_len 9): a bucket of side 4 does not fit it.
        XCTAssertThrowsError(try ACTTrainer(model: makeModel(), buckets: [Self.source(puzzles: 2, size: 2, firstIdentifier: 1, seed: 1, side: 4)],
                                            options: ResumeTests.options())) {
            XCTAssertTrue("\($0)".contains("4"), "\($0)")
        }
    }

    func testAStateWithAnotherBucketCountIsRefused() throws {
        let dir = try temporaryRun()
        defer { try? FileManager.default.removeItem(at: dir) }
        let session = try TrainingSession(runDirectory: dir, model: makeModel(), buckets: Self.twoBuckets(), options: ResumeTests.options(), resume: false)
        var plan = TrainingPlan(maxSteps: 2)
        plan.quiet = true
        _ = try session.run(plan, stop: StopRequest())
        XCTAssertThrowsError(try TrainingSession(runDirectory: dir, model: makeModel(), data: ResumeTests.tinyData(), options: ResumeTests.options(), resume: true)) {
            XCTAssertTrue("\($0)".contains("2 canvas bucket(s)"), "\($0)")
        }
    }
}
