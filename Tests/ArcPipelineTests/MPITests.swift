// Data-parallel training and evaluation across MPI ranks (module Distributed), proven against one
// process: `mpirun --oversubscribe --allow-run-as-root -np 2` on the built executable, tiny model
// and tasks. Two ranks with global batch B train the same parameters as one process with batch B
// (within a stated tolerance: the ranks' gradient sums are added in another order than one
// process's matrix products); a checkpoint saved by two ranks resumes on one and vice versa; a
// two-rank evaluation writes the same submission.json bytes; killing a rank stops the run with
// the rank named and a loadable checkpoint. mpirun missing is a FAILURE, not a skip (CI installs
// it). Without mpirun: a launcher environment asking for two ranks with no loadable MPI library
// is refused in one line, and so is a command that does not run data-parallel.
import Foundation
import HRM
import TestHelpers
import XCTest

final class MPITests: XCTestCase {
    // MARK: - Helpers

    /// mpirun on PATH (or the usual places); a missing launcher fails the test.
    func mpirun(file: StaticString = #filePath, line: UInt = #line) throws -> URL {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? ""
        for folder in path.split(separator: ":").map(String.init) + ["/usr/bin", "/usr/local/bin"] {
            let candidate = URL(fileURLWithPath: folder).appendingPathComponent("mpirun")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        XCTFail("mpirun not found on PATH: install Open MPI (Debian: openmpi-bin libopenmpi-dev); these tests need it", file: file, line: line)
        throw MPIRunMissing()
    }

    /// The environment of every run: Open MPI over shared memory without the ptrace-based single
    /// copy (refused in many containers), as root if need be.
    var environment: [String: String] {
        var e = ProcessInfo.processInfo.environment
        e["OMPI_MCA_btl_vader_single_copy_mechanism"] = "none"
        e["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
        for key in e.keys where key.hasPrefix("OMPI_COMM_WORLD") || key.hasPrefix("PMI") { e[key] = nil }
        return e
    }

    /// `mpirun -np ranks arc-pipeline arguments` started in `directory`.
    func startRanks(_ ranks: Int, _ arguments: [String], in directory: URL) throws -> Process {
        let process = Process()
        process.executableURL = try mpirun()
        process.arguments = ["--oversubscribe", "--allow-run-as-root", "-np", "\(ranks)", try PipelineExecutable.url().path] + arguments
        process.currentDirectoryURL = directory
        process.environment = environment
        process.standardOutput = Pipe()
        process.standardError = Pipe()
        try process.run()
        return process
    }

    /// Runs to the end: status, stdout, stderr.
    func finish(_ process: Process) -> (Int32, String, String) {
        let outReader = StreamingPipeReader(process.standardOutput as! Pipe), errReader = StreamingPipeReader(process.standardError as! Pipe)
        process.waitUntilExit()
        return (process.terminationStatus, outReader.all(), errReader.all())
    }

    @discardableResult
    func runRanks(_ ranks: Int, _ arguments: [String], in directory: URL, file: StaticString = #filePath, line: UInt = #line) throws -> (Int32, String, String) {
        let result = finish(try startRanks(ranks, arguments, in: directory))
        XCTAssertEqual(result.0, 0, "mpirun -np \(ranks) arc-pipeline \(arguments.joined(separator: " ")) failed:\n\(result.1)\n\(result.2)", file: file, line: line)
        return result
    }

    @discardableResult
    func runOne(_ arguments: [String], in directory: URL, file: StaticString = #filePath, line: UInt = #line) throws -> (Int32, String, String) {
        let result = try PipelineExecutable.run(arguments, in: directory, environment: environment)
        XCTAssertEqual(result.status, 0, "arc-pipeline \(arguments.joined(separator: " ")) failed:\n\(result.stderr)", file: file, line: line)
        return (result.status, result.stdout, result.stderr)
    }

    /// A sandbox with a tiny built dataset `built` (recolouring tasks up to 3x3 on a 4x4 canvas, or
    /// on `canvas` buckets such as "2,4": then the tasks that fit 2x2 train and predict on a 2x2 canvas).
    func makeSandbox(canvas: String = "4") throws -> URL {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("arc-mpi-\(UUID().uuidString.prefix(8))")
        for (folder, prefix, count) in [("tasks/train", "tr", 6), ("tasks/eval", "ev", 3)] {
            let dir = root.appendingPathComponent(folder)
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            for t in 0..<count {
                func pair(_ k: Int) -> String {
                    let rows = 1 + (t + k) % 3, cols = 1 + (t * 2 + k) % 3
                    let input = (0..<rows).map { r in (0..<cols).map { c in (r + c + k) % 2 } }
                    return "{\"input\": \(input), \"output\": \(input.map { $0.map { $0 == 1 ? 2 : $0 } })}"
                }
                try Data("{\"train\": [\(pair(0)), \(pair(1))], \"test\": [\(pair(9))]}".utf8).write(to: dir.appendingPathComponent("\(prefix)\(t).json"))
            }
        }
        try runOne(["build-dataset", "--train", root.appendingPathComponent("tasks/train").path, "--eval", root.appendingPathComponent("tasks/eval").path,
                    "--canvas", canvas, "--num-aug", "2", "--out", "built", "--quiet"], in: root)
        return root
    }

    /// The tiny model; ACT 3 so the exploration stream and halting matter.
    let model = ["--hidden-size", "16", "--heads", "2", "--halt-max-steps", "3", "--threads", "1", "--seed", "7"]

    /// Every tensor of a safetensors file by name.
    func tensors(_ url: URL) throws -> [String: SafeTensor] { try SafeTensorsFile.read(url).tensors }

    func latestCheckpoint(_ run: URL) throws -> URL {
        let name = try String(contentsOf: run.appendingPathComponent("checkpoints/latest"), encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines)
        return run.appendingPathComponent("checkpoints").appendingPathComponent(name)
    }

    /// Largest |a - b| over every float tensor of two checkpoint files (same names and shapes
    /// required); integer tensors must be equal.
    func maximumDifference(_ a: URL, _ b: URL, file: StaticString = #filePath, line: UInt = #line) throws -> Float {
        let ta = try tensors(a), tb = try tensors(b)
        XCTAssertEqual(Set(ta.keys), Set(tb.keys), file: file, line: line)
        var worst: Float = 0
        for (name, x) in ta {
            guard let y = tb[name] else { continue }
            XCTAssertEqual(x.shape, y.shape, name, file: file, line: line)
            if let fx = x.floats, let fy = y.floats {
                for k in 0..<min(fx.count, fy.count) { worst = max(worst, abs(fx[k] - fy[k])) }
            } else {
                XCTAssertEqual(x.integers, y.integers, "\(name) differs", file: file, line: line)
            }
        }
        return worst
    }

    /// Tolerance on parameters after 6 steps at lr 1e-3: AdamATan2 moves a parameter by at most
    /// ~lr per step, so 1e-5 is 1% of one step's move; the float sums of 2 ranks differ from one
    /// process's in the last bits only (observed ~1e-7 on this machine).
    let parameterTolerance: Float = 1e-5

    // MARK: - Training

    func testTwoRanksTrainTheSameParametersAsOneProcess() throws {
        try checkTwoRanksTrainLikeOneProcess(canvas: "4")
    }

    func testTwoRanksTrainTheSameParametersAsOneProcessOnCanvasBuckets() throws {
        try checkTwoRanksTrainLikeOneProcess(canvas: "2,4")
    }

    func checkTwoRanksTrainLikeOneProcess(canvas: String) throws {
        let root = try makeSandbox(canvas: canvas)
        defer { try? FileManager.default.removeItem(at: root) }
        let train = ["train", "--dataset", "built", "--batch-size", "4", "--lr", "1e-3", "--warmup-steps", "2",
                     "--log-interval", "1", "--checkpoint-interval", "3", "--quiet"] + model
        try runOne(train + ["--out", "one", "--max-steps", "6"], in: root)
        let (_, out, _) = try runRanks(2, train + ["--out", "two", "--max-steps", "6"], in: root)
        XCTAssertTrue(out.contains("data parallel: 2 MPI ranks"), out)
        XCTAssertEqual(out.components(separatedBy: "trained steps 0..6").count - 1, 1, "rank 0 alone reports:\n\(out)")
        let one = try latestCheckpoint(root.appendingPathComponent("one")), two = try latestCheckpoint(root.appendingPathComponent("two"))
        XCTAssertEqual(one.lastPathComponent, "step-00000006")
        XCTAssertEqual(two.lastPathComponent, "step-00000006")
        let modelDifference = try maximumDifference(one.appendingPathComponent("model.safetensors"), two.appendingPathComponent("model.safetensors"))
        XCTAssertLessThanOrEqual(modelDifference, parameterTolerance, "parameters of 2 ranks vs 1 process")
        // The state holds the whole global batch: same slots, examples, sampler; moments and carry close.
        let stateDifference = try maximumDifference(one.appendingPathComponent("state.safetensors"), two.appendingPathComponent("state.safetensors"))
        XCTAssertLessThanOrEqual(stateDifference, 1e-3, "optimizer moments and ACT carry of 2 ranks vs 1 process")
        let stateOne = try SafeTensorsFile.read(one.appendingPathComponent("state.safetensors"))
        let stateTwo = try SafeTensorsFile.read(two.appendingPathComponent("state.safetensors"))
        XCTAssertEqual(stateOne.metadata, stateTwo.metadata, "step, sampler and exploration stream")
        // Metrics: written once (rank 0), with the global batch's losses.
        let metricsOne = try String(contentsOf: root.appendingPathComponent("one/metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        let metricsTwo = try String(contentsOf: root.appendingPathComponent("two/metrics.jsonl"), encoding: .utf8).split(separator: "\n")
        XCTAssertEqual(metricsTwo.count, 6)
        XCTAssertEqual(metricsOne.count, metricsTwo.count)
        func lmLoss(_ line: Substring) -> Double? {
            guard let json = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] else { return nil }
            return json["lm_loss"] as? Double
        }
        for (a, b) in zip(metricsOne, metricsTwo) {
            let x = try XCTUnwrap(lmLoss(a)), y = try XCTUnwrap(lmLoss(b))
            XCTAssertEqual(x, y, accuracy: 1e-4 * max(1, abs(x)), "lm_loss per step")
        }
        print("MPITests: canvas \(canvas): 2 ranks vs 1 process after 6 steps: parameters differ by at most \(modelDifference), state by \(stateDifference)")
    }

    func testCheckpointsMoveBetweenRankCounts() throws {
        let root = try makeSandbox()
        defer { try? FileManager.default.removeItem(at: root) }
        let train = ["train", "--dataset", "built", "--batch-size", "5", "--lr", "1e-3", "--warmup-steps", "2", "--quiet"] + model
        // Reference: one process, 6 steps. Then 3 steps on one process, resumed on 3 ranks (uneven
        // shares 1/2/2) to 6.
        try runOne(train + ["--out", "whole", "--max-steps", "6"], in: root)
        try runOne(train + ["--out", "moved", "--max-steps", "3"], in: root)
        let (_, out, _) = try runRanks(3, ["train", "--dataset", "built", "--out", "moved", "--resume", "--max-steps", "6", "--threads", "1", "--quiet"], in: root)
        XCTAssertTrue(out.contains("trained steps 3..6"), out)
        let whole = try latestCheckpoint(root.appendingPathComponent("whole")), moved = try latestCheckpoint(root.appendingPathComponent("moved"))
        XCTAssertEqual(moved.lastPathComponent, "step-00000006")
        XCTAssertLessThanOrEqual(try maximumDifference(whole.appendingPathComponent("model.safetensors"), moved.appendingPathComponent("model.safetensors")),
                                 parameterTolerance)
        // And back: the 3-rank checkpoint resumes on one process.
        try runOne(["train", "--dataset", "built", "--out", "moved", "--resume", "--max-steps", "7", "--threads", "1", "--quiet"], in: root)
        XCTAssertEqual(try latestCheckpoint(root.appendingPathComponent("moved")).lastPathComponent, "step-00000007")
    }

    // MARK: - Evaluation

    func testTwoRankEvaluationWritesTheSameSubmission() throws {
        try checkTwoRankEvaluationWritesTheSameSubmission(canvas: "4")
    }

    /// Each canvas set's predictions have that set's side squared tokens (2x2 and 4x4 here).
    func testTwoRankEvaluationOnCanvasBucketsWritesTheSameSubmission() throws {
        try checkTwoRankEvaluationWritesTheSameSubmission(canvas: "2,4")
    }

    func checkTwoRankEvaluationWritesTheSameSubmission(canvas: String) throws {
        let root = try makeSandbox(canvas: canvas)
        defer { try? FileManager.default.removeItem(at: root) }
        try runOne(["train", "--dataset", "built", "--out", "run", "--batch-size", "4", "--max-steps", "4", "--quiet"] + model, in: root)
        // Batch 2 over the 9 test examples (one canvas: 5 batches, the last one padded, 3 on rank 0 and
        // 2 on rank 1; buckets: each set its own batches), shared out in turn.
        let evaluate = ["evaluate", "--dataset", "built", "--model", "run", "--batch-size", "2", "--threads", "1", "--quiet"]
        try runOne(evaluate + ["--out", "one"], in: root)
        let (_, out, _) = try runRanks(2, evaluate + ["--out", "two"], in: root)
        XCTAssertEqual(out.components(separatedBy: "submission: ").count - 1, 1, "rank 0 alone reports:\n\(out)")
        for name in ["submission.json", "predictions.jsonl"] {
            let a = try Data(contentsOf: root.appendingPathComponent("one/\(name)")), b = try Data(contentsOf: root.appendingPathComponent("two/\(name)"))
            XCTAssertFalse(a.isEmpty, name)
            XCTAssertEqual(a, b, "\(name) of 2 ranks differs from 1 process's")
        }
    }

    // MARK: - Failure

    /// The process ids of mpirun's children that run rank `rank` (from /proc).
    func rankProcess(_ rank: Int, of launcher: Int32) -> Int32? {
        guard let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc") else { return nil }
        for entry in entries {
            guard let pid = Int32(entry),
                  let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  let close = stat.lastIndex(of: ")") else { continue }
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            guard fields.count > 2, Int32(fields[1]) == launcher,
                  let environ = FileManager.default.contents(atPath: "/proc/\(pid)/environ") else { continue }
            let variables = environ.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
            if variables.contains("OMPI_COMM_WORLD_RANK=\(rank)") { return pid }
        }
        return nil
    }

    /// Whether `pid` is a live process (a zombie, exited but not reaped, is not).
    func isRunning(_ pid: Int32) -> Bool {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8), let close = stat.lastIndex(of: ")") else { return false }
        return stat[stat.index(after: close)...].split(separator: " ").first != "Z"
    }

    func testKillingOneRankStopsTheRunWithTheRankNamedAndKeepsTheCheckpoint() throws {
        let root = try makeSandbox()
        defer { try? FileManager.default.removeItem(at: root) }
        let process = try startRanks(2, ["train", "--dataset", "built", "--out", "run", "--batch-size", "4", "--max-steps", "100000",
                                         "--checkpoint-interval", "2"] + model, in: root)
        let outReader = StreamingPipeReader(process.standardOutput as! Pipe), errReader = StreamingPipeReader(process.standardError as! Pipe)
        let latest = root.appendingPathComponent("run/checkpoints/latest")
        let deadline = Date().addingTimeInterval(120)
        while !FileManager.default.fileExists(atPath: latest.path) && process.isRunning && Date() < deadline { usleep(20_000) }
        XCTAssertTrue(FileManager.default.fileExists(atPath: latest.path), "a checkpoint within 120 s:\n\(outReader.text())\n\(errReader.text())")
        usleep(300_000)  // mid-run, possibly mid-checkpoint
        let victim = try XCTUnwrap(rankProcess(1, of: process.processIdentifier), "rank 1's process under mpirun \(process.processIdentifier)")
        let survivor = try XCTUnwrap(rankProcess(0, of: process.processIdentifier), "rank 0's process under mpirun \(process.processIdentifier)")
        kill(victim, SIGKILL)
        let stopBy = Date().addingTimeInterval(60)
        while process.isRunning && Date() < stopBy { usleep(20_000) }
        if process.isRunning {
            process.terminate()
            XCTFail("the run did not stop within 60 s of rank 1's death")
        }
        process.waitUntilExit()
        let output = outReader.all() + errReader.all()
        XCTAssertNotEqual(process.terminationStatus, 0, output)
        XCTAssertTrue(output.contains("rank 1"), "the dead rank is named:\n\(output)")
        // Rank 0 stops too (it may outlive mpirun by a moment on a busy machine, reparented: wait for its pid).
        let goneBy = Date().addingTimeInterval(60)
        while isRunning(survivor) && Date() < goneBy { usleep(20_000) }
        XCTAssertFalse(isRunning(survivor), "rank 0 (pid \(survivor)) stopped too")
        // The last good checkpoint loads: one process resumes from it for one more step.
        let step = try XCTUnwrap(Int(try latestCheckpoint(root.appendingPathComponent("run")).lastPathComponent.dropFirst(5)))
        let (_, out, _) = try runOne(["train", "--dataset", "built", "--out", "run", "--resume", "--max-steps", "\(step + 1)", "--threads", "1"], in: root)
        XCTAssertTrue(out.contains("trained steps \(step)..\(step + 1)"), out)
    }

    // MARK: - Without mpirun

    func testMultiRankLaunchWithoutLoadableMPIIsOneLineError() throws {
        let launcher = ["OMPI_COMM_WORLD_SIZE": "2", "OMPI_COMM_WORLD_RANK": "0", "ARC_MPI_LIBRARY": "/nonexistent/libmpi.so.40"]
        try HostileInputHarness.check([
            HostileCase(name: "MPI library missing", arguments: ["train", "--dataset", "built", "--out", "run"],
                        errorMentions: ["rank 0 of 2", "OMPI_COMM_WORLD_SIZE=2", "/nonexistent/libmpi.so.40", "cannot be loaded"],
                        environment: launcher),
            HostileCase(name: "Slurm PMI launcher, MPI library missing", arguments: ["evaluate", "--dataset", "built", "--model", "run"],
                        errorMentions: ["rank 1 of 3", "PMI_SIZE=3", "cannot be loaded"],
                        environment: ["PMI_SIZE": "3", "PMI_RANK": "1", "ARC_MPI_LIBRARY": "/nonexistent/libmpi.so.40"]),
            HostileCase(name: "a one-process command under a launcher", arguments: ["fetch", "arc-agi-1"],
                        errorMentions: ["fetch", "runs in one process", "rank 0 of 2"], environment: launcher),
        ])
    }
}

struct MPIRunMissing: Error {}

/// Drains a pipe on a background thread (a full pipe would block the child).
final class StreamingPipeReader: @unchecked Sendable {
    private var data = Data()
    private let lock = NSLock()
    private let done = DispatchSemaphore(value: 0)
    private var finished = false

    init(_ pipe: Pipe) {
        let handle = pipe.fileHandleForReading
        Thread.detachNewThread { [self] in
            while true {
                let chunk = handle.availableData
                if chunk.isEmpty { break }
                lock.lock(); data.append(chunk); lock.unlock()
            }
            done.signal()
        }
    }

    /// Everything read so far.
    func text() -> String {
        lock.lock(); defer { lock.unlock() }
        return String(decoding: data, as: UTF8.self)
    }

    /// Everything the pipe carried, once every writer closed it.
    func all() -> String {
        if !finished { done.wait(); finished = true }
        return text()
    }
}
