// Hostile data files against the executable: task JSON (unpaired surrogates, duplicate keys),
// built datasets (.npy sizes that overflow, dataset.json / build_info.json fields out of range,
// offsets and tokens out of range), model checkpoints (safetensors sizes and offsets, configs
// that cannot build a model, NaN weights) and trainer states that do not fit the run. Each must
// end with one `Error:` line naming the file and field, no trap, and the disk unchanged.
import ARCAugment
import ARCCore
import Foundation
import HRM
import TestHelpers
import XCTest

/// A small valid pipeline (tasks, a built dataset, trained runs) made once per test process with
/// the executable; cases copy what they need into their sandbox and break one file.
enum DataFilesFixture {
    nonisolated(unsafe) static var cached: URL?
    static let lock = NSLock()

    struct Failure: Error, CustomStringConvertible { let description: String }

    static func run(_ arguments: [String], in dir: URL) throws {
        let result = try PipelineExecutable.run(arguments, in: dir)
        guard result.status == 0 else {
            throw Failure(description: "fixture: arc-pipeline \(arguments.joined(separator: " ")) failed (\(result.status)): \(result.stderr)")
        }
    }

    static let model = ["--hidden-size", "16", "--heads", "2", "--halt-max-steps", "2", "--threads", "1", "--quiet"]

    /// tasks/{train,eval}/, built/ (canvas 4), run/ (2 steps at batch 4), run-b2/ (2 steps at batch 2).
    static func template() throws -> URL {
        lock.lock()
        defer { lock.unlock() }
        if let cached { return cached }
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("arc-hostile-data-template-\(getpid())-\(UUID().uuidString.prefix(6))")
        try? FileManager.default.removeItem(at: root)
        try TinyTaskFiles.write(root.appendingPathComponent("tasks/train"), prefix: "tr", count: 6)
        try TinyTaskFiles.write(root.appendingPathComponent("tasks/eval"), prefix: "ev", count: 3)
        try run(["build-dataset", "--train", "tasks/train", "--eval", "tasks/eval", "--canvas", "4", "--num-aug", "2", "--out", "built", "--quiet"], in: root)
        try run(["train", "--dataset", "built", "--out", "run", "--max-steps", "2", "--batch-size", "4"] + model, in: root)
        try run(["train", "--dataset", "built", "--out", "run-b2", "--max-steps", "2", "--batch-size", "2"] + model, in: root)
        cached = root
        return root
    }

    /// Deletes the template (after the last case that uses it).
    static func removeTemplate() {
        lock.lock()
        defer { lock.unlock() }
        if let cached { try? FileManager.default.removeItem(at: cached) }
        cached = nil
    }

    /// Copies `items` (relative paths) of the template into `root`.
    static func copy(_ items: [String], to root: URL) throws {
        let template = try template()
        for item in items {
            let destination = root.appendingPathComponent(item)
            try FileManager.default.createDirectory(at: destination.deletingLastPathComponent(), withIntermediateDirectories: true)
            try FileManager.default.copyItem(at: template.appendingPathComponent(item), to: destination)
        }
    }

    /// The latest checkpoint folder of a run in `root`.
    static func latest(_ run: String, in root: URL) throws -> URL {
        let name = try String(contentsOf: root.appendingPathComponent("\(run)/checkpoints/latest"), encoding: .utf8)
            .trimmingCharacters(in: .whitespacesAndNewlines)
        return root.appendingPathComponent("\(run)/checkpoints/\(name)")
    }
}

extension URL {
    /// Replaces the value of `"key": ...` (up to the next ',' or '}') in a JSON file.
    func editJSON(_ relative: String, _ key: String, _ value: String) throws {
        let url = appendingPathComponent(relative)
        let text = try String(contentsOf: url, encoding: .utf8)
        guard let range = text.range(of: "\"\(key)\": ") else { throw DataFilesFixture.Failure(description: "no \(key) in \(relative)") }
        let end = text[range.upperBound...].firstIndex(where: { $0 == "," || $0 == "}" })!
        try Data(text.replacingCharacters(in: range.upperBound..<end, with: value).utf8).write(to: url)
    }

    /// Rewrites a uint8 .npy array of the fixture with one byte changed.
    func editNpy(_ relative: String, byte index: Int, to value: UInt8) throws {
        let url = appendingPathComponent(relative)
        let file = try NpyFile(contentsOf: url)
        var values = try file.uint8Values()
        values[index] = value
        let shape = file.shape
        try NpyFile.write(uint8: values, shape: shape, to: url)
    }
}

final class HostileDataFilesTests: XCTestCase {
    static let dataset = ["tasks", "built"]

    override class func tearDown() {
        DataFilesFixture.removeTemplate()
        super.tearDown()
    }

    // MARK: Task JSON

    func testTaskJSONWithSurrogatesAndDuplicateKeys() throws {
        let surrogate = #"{"\ud800\u0041":[]}"#
        try HostileInputHarness.check([
            HostileCase(name: "score: unpaired surrogate in the submission", arguments: ["score", "sub/submission.json", "--solutions", "tasks/eval"],
                        errorMentions: ["sub/submission.json", "surrogate"], prepare: { root in
                            try DataFilesFixture.copy(["tasks"], to: root)
                            try root.write(surrogate, to: "sub/submission.json")
                        }),
            HostileCase(name: "score: unpaired surrogate in the solutions", arguments: ["score", "sub/submission.json", "--solutions", "sol.json"],
                        errorMentions: ["sol.json", "surrogate"], prepare: { root in
                            try root.write(#"{"ev0":[{"attempt_1":[[1]],"attempt_2":[[1]]}]}"#, to: "sub/submission.json")
                            try root.write(#"{"ev0":[[[1]]],"x\udc00":[]}"#, to: "sol.json")
                        }),
            HostileCase(name: "report: unpaired surrogate in the submission", arguments: ["report", "sub", "--challenges", "tasks/eval", "--out", "sub/report.html"],
                        errorMentions: ["sub/submission.json", "surrogate"], prepare: { root in
                            try DataFilesFixture.copy(["tasks"], to: root)
                            try root.write(surrogate, to: "sub/submission.json")
                        }),
            HostileCase(name: "build-dataset: unpaired surrogate inside a task file",
                        arguments: ["build-dataset", "--train", "tasks/bad", "--eval", "tasks/eval", "--canvas", "4", "--num-aug", "1", "--out", "out", "--quiet"],
                        errorMentions: ["tasks/bad/x1.json", "surrogate"], prepare: { root in
                            try DataFilesFixture.copy(["tasks"], to: root)
                            try root.write(#"{"train": [{"input": [[1]], "output": [[2]], "\ud800\u0041": 1}], "test": [{"input": [[1]], "output": [[2]]}]}"#,
                                           to: "tasks/bad/x1.json")
                        }, mayChange: ["out", ".out"]),
            HostileCase(name: "build-dataset: a task file with two \"train\" keys",
                        arguments: ["build-dataset", "--train", "tasks/dup", "--eval", "tasks/eval", "--canvas", "4", "--num-aug", "1", "--out", "out", "--quiet"],
                        errorMentions: ["tasks/dup/d1.json", "task d1", "duplicate key \"train\""], prepare: { root in
                            try DataFilesFixture.copy(["tasks"], to: root)
                            try root.write(#"{"train": [{"input": [[1]], "output": [[2]]}], "test": [{"input": [[1]], "output": [[2]]}], "train": []}"#,
                                           to: "tasks/dup/d1.json")
                        }, mayChange: ["out", ".out"]),
            HostileCase(name: "score: a Kaggle solutions file with a task repeated", arguments: ["score", "sub/submission.json", "--solutions", "sol.json"],
                        errorMentions: ["sol.json", "task ev0", "duplicate"], prepare: { root in
                            try root.write(#"{"ev0":[{"attempt_1":[[1]],"attempt_2":[[1]]}]}"#, to: "sub/submission.json")
                            try root.write(#"{"ev0":[[[1]]],"ev0":[[[2]]]}"#, to: "sol.json")
                        }),
        ])
    }

    // MARK: Evaluation outputs

    func testReportRefusesCountsOutOfRangeInPredictions() throws {
        /// `report` on a submission folder whose predictions.jsonl holds `line`.
        func reportCase(_ name: String, line: String, mentions: [String]) -> HostileCase {
            HostileCase(name: name, arguments: ["report", "sub", "--challenges", "tasks/eval", "--out", "sub/report.html"],
                        errorMentions: ["sub/predictions.jsonl:1", "task ev0"] + mentions, prepare: { root in
                            try TinyTaskFiles.write(root.appendingPathComponent("tasks/eval"), prefix: "ev", count: 1)
                            try root.write(#"{"ev0":[{"attempt_1":[[1]],"attempt_2":[[2]]}]}"#, to: "sub/submission.json")
                            try root.write(line + "\n", to: "sub/predictions.jsonl")
                        })
        }
        try HostileInputHarness.check([
            reportCase("report: votes of Int.max", line: #"{"task":"ev0","test_index":0,"undecodable":0,"candidates":[{"grid":[[1]],"votes":9223372036854775807,"mean_q":0.5}]}"#,
                       mentions: ["candidates[0].votes", "9223372036854775807"]),
            reportCase("report: two candidates whose votes sum past Int.max",
                       line: #"{"task":"ev0","test_index":0,"undecodable":0,"candidates":[{"grid":[[1]],"votes":5000000000000000000,"mean_q":0.5},{"grid":[[2]],"votes":5000000000000000000,"mean_q":0.5}]}"#,
                       mentions: ["candidates[0].votes"]),
            reportCase("report: undecodable of Int.max", line: #"{"task":"ev0","test_index":0,"undecodable":9223372036854775807,"candidates":[{"grid":[[1]],"votes":1,"mean_q":0.5}]}"#,
                       mentions: ["undecodable", "9223372036854775807"]),
        ])
    }

    // MARK: Task ids

    /// A task id that reads as another task's augmented puzzle name (`<task>_t<tid>_<map>`) would be
    /// voted for that task: build-dataset, train-eval and evaluate refuse it, naming the file and the id.
    func testTaskIdsThatReadAsAugmentedPuzzleNamesAreRefused() throws {
        let hostile = "ev0_t1_0123456789"
        let mentions = ["task \(hostile)", "augmented puzzle of task \"ev0\""]
        /// data/kaggle/: training challenges and solutions (tr0), evaluation and test challenges holding `ids`.
        func writeKaggle(_ root: URL, ids: [String]) throws {
            let task = #"{"train": [{"input": [[1]], "output": [[2]]}], "test": [{"input": [[1]]}]}"#
            let challenges = "{" + ids.map { "\"\($0)\": \(task)" }.joined(separator: ", ") + "}"
            try root.write(challenges, to: "data/kaggle/arc-agi_evaluation_challenges.json")
            try root.write(challenges, to: "data/kaggle/arc-agi_test_challenges.json")
            try root.write(#"{"tr0": \#(task)}"#, to: "data/kaggle/arc-agi_training_challenges.json")
            try root.write(#"{"tr0": [[[2]]]}"#, to: "data/kaggle/arc-agi_training_solutions.json")
        }
        let build = ["build-dataset", "--train", "tasks/train", "--canvas", "4", "--num-aug", "1", "--out", "out", "--quiet"]
        try HostileInputHarness.check([
            HostileCase(name: "build-dataset: a task file named like an augmented puzzle", arguments: build + ["--eval", "tasks/bad"],
                        errorMentions: ["tasks/bad/\(hostile).json"] + mentions, prepare: { root in
                            try DataFilesFixture.copy(["tasks"], to: root)
                            try FileManager.default.copyItem(at: root.appendingPathComponent("tasks/eval"), to: root.appendingPathComponent("tasks/bad"))
                            try FileManager.default.copyItem(at: root.appendingPathComponent("tasks/bad/ev0.json"),
                                                             to: root.appendingPathComponent("tasks/bad/\(hostile).json"))
                        }, mayChange: ["out", ".out"]),
            HostileCase(name: "build-dataset: a Kaggle challenges file with such an id", arguments: build + ["--eval", "kaggle:evaluation", "--data-dir", "data"],
                        errorMentions: ["data/kaggle/arc-agi_evaluation_challenges.json"] + mentions, prepare: { root in
                            try DataFilesFixture.copy(["tasks"], to: root)
                            try writeKaggle(root, ids: ["ev0", hostile])
                        }, mayChange: ["out", ".out"]),
            HostileCase(name: "train-eval: a Kaggle test challenges file with such an id",
                        arguments: ["train-eval", "--dataset", "kaggle", "--data-dir", "data", "--max-steps", "1", "--canvas", "4", "--num-aug", "1",
                                    "--hidden-size", "16", "--heads", "2", "--halt-max-steps", "2", "--threads", "1"],
                        errorMentions: ["data/kaggle/arc-agi_test_challenges.json"] + mentions, prepare: { root in
                            try writeKaggle(root, ids: ["ev0", hostile])
                        }),
            HostileCase(name: "evaluate: a task file named like an augmented puzzle beside the dataset's tasks",
                        arguments: ["evaluate", "--dataset", "built", "--model", "run", "--out", "sub", "--threads", "1", "--quiet"],
                        errorMentions: ["tasks/eval/\(hostile).json"] + mentions, prepare: { root in
                            try DataFilesFixture.copy(Self.dataset + ["run"], to: root)
                            try FileManager.default.copyItem(at: root.appendingPathComponent("tasks/eval/ev0.json"),
                                                             to: root.appendingPathComponent("tasks/eval/\(hostile).json"))
                        }, mayChange: ["sub", ".sub"]),
            HostileCase(name: "evaluate: such an id added to the Kaggle challenges the dataset was built from",
                        arguments: ["evaluate", "--dataset", "built", "--model", "run", "--data-dir", "data", "--out", "sub", "--threads", "1", "--quiet"],
                        errorMentions: ["data/kaggle/arc-agi_evaluation_challenges.json"] + mentions, prepare: { root in
                            try DataFilesFixture.copy(["tasks", "run"], to: root)
                            try writeKaggle(root, ids: ["ev0"])
                            try DataFilesFixture.run(["build-dataset", "--train", "tasks/train", "--eval", "kaggle:evaluation", "--data-dir", "data",
                                                      "--canvas", "4", "--num-aug", "1", "--out", "built", "--quiet"], in: root)
                            try writeKaggle(root, ids: ["ev0", hostile])
                        }, mayChange: ["sub", ".sub"]),
        ])
    }

    // MARK: Files that are no regular files

    func testInputsThatAreNoRegularFilesAreNamedWithWhatTheyAre() throws {
        let build = ["build-dataset", "--train", "tasks/train", "--eval", "tasks/bad", "--canvas", "4", "--num-aug", "1", "--out", "out", "--quiet"]
        let submission = #"{"ev0":[{"attempt_1":[[1]],"attempt_2":[[1]]}]}"#
        try HostileInputHarness.check([
            HostileCase(name: "build-dataset: a folder named like a task file", arguments: build,
                        errorMentions: ["tasks/bad/x1.json", "is a directory"], prepare: { root in
                            try DataFilesFixture.copy(["tasks"], to: root)
                            try FileManager.default.copyItem(at: root.appendingPathComponent("tasks/eval"), to: root.appendingPathComponent("tasks/bad"))
                            try FileManager.default.createDirectory(at: root.appendingPathComponent("tasks/bad/x1.json"), withIntermediateDirectories: true)
                        }, mayChange: ["out", ".out"]),
            HostileCase(name: "build-dataset: a task file that is a symbolic link loop", arguments: build,
                        errorMentions: ["tasks/bad/x1.json", "symbolic link loop"], prepare: { root in
                            try DataFilesFixture.copy(["tasks"], to: root)
                            try FileManager.default.copyItem(at: root.appendingPathComponent("tasks/eval"), to: root.appendingPathComponent("tasks/bad"))
                            try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("tasks/bad/x1.json").path, withDestinationPath: "x2.json")
                            try FileManager.default.createSymbolicLink(atPath: root.appendingPathComponent("tasks/bad/x2.json").path, withDestinationPath: "x1.json")
                        }, mayChange: ["out", ".out"]),
            HostileCase(name: "score: --solutions /dev/zero", arguments: ["score", "sub/submission.json", "--solutions", "/dev/zero"],
                        errorMentions: ["/dev/zero", "is not a regular file"], prepare: { root in
                            try root.write(submission, to: "sub/submission.json")
                        }),
            HostileCase(name: "score: a submission that is a FIFO", arguments: ["score", "sub/submission.json", "--solutions", "tasks/eval"],
                        errorMentions: ["sub/submission.json", "is not a regular file"], prepare: { root in
                            try DataFilesFixture.copy(["tasks"], to: root)
                            try FileManager.default.createDirectory(at: root.appendingPathComponent("sub"), withIntermediateDirectories: true)
                            guard mkfifo(root.appendingPathComponent("sub/submission.json").path, 0o600) == 0 else { throw DataFilesFixture.Failure(description: "mkfifo failed") }
                        }),
            HostileCase(name: "report: predictions.jsonl that is a folder", arguments: ["report", "sub", "--challenges", "tasks/eval", "--out", "sub/report.html"],
                        errorMentions: ["sub/predictions.jsonl", "is a directory"], prepare: { root in
                            try DataFilesFixture.copy(["tasks"], to: root)
                            try root.write(submission.replacingOccurrences(of: "}]}", with: "}],\"ev1\":[{\"attempt_1\":[[1]],\"attempt_2\":[[1]]}],\"ev2\":[{\"attempt_1\":[[1]],\"attempt_2\":[[1]]}]}"),
                                           to: "sub/submission.json")
                            try FileManager.default.createDirectory(at: root.appendingPathComponent("sub/predictions.jsonl"), withIntermediateDirectories: true)
                        }),
        ])
    }

    // MARK: Built datasets

    /// `train` on the fixture's dataset after `edit`; the error names `file` and `mentions`.
    private func trainCase(_ name: String, file: String, mentions: [String], _ edit: @escaping (URL) throws -> Void) -> HostileCase {
        HostileCase(name: name, arguments: ["train", "--dataset", "built", "--out", "newrun", "--max-steps", "1", "--batch-size", "4"] + DataFilesFixture.model,
                    errorMentions: [file] + mentions, prepare: { root in
                        try DataFilesFixture.copy(Self.dataset, to: root)
                        try edit(root)
                    })
    }

    func testAModelAndBatchLargerThanTheMachinesMemoryIsRefusedBeforeAnythingIsAllocated() throws {
        // D 4096, 2+3 layers: ~1 G parameters (the options' limit), over 30 GB to train at any sequence
        // length; every option within its range. The run is told it has 8 GB (ARC_MEMORY_BYTES), so the
        // case refuses on every machine.
        let huge = ["--hidden-size", "4096", "--heads", "32", "--h-layers", "2", "--l-layers", "3", "--halt-max-steps", "2", "--threads", "1", "--quiet"]
        var smallest = HRMConfig(hiddenSize: 4096, numHeads: 32, expansion: 4, hLayers: 2, lLayers: 3, hCycles: 1, lCycles: 1, haltMaxSteps: 2)
        smallest.seqLen = 1
        XCTAssertGreaterThan(MemoryEstimate.bytes(config: smallest, batchSize: 4096, training: true), 30e9)
        try HostileInputHarness.check([
            HostileCase(name: "train with D 4096, 2+3 layers and batch 4096", arguments: ["train", "--dataset", "built", "--out", "newrun", "--max-steps", "1",
                                                                                        "--batch-size", "4096"] + huge,
                        errorMentions: ["training at batch size 4096", "of memory", "8.0 GB", "--batch-size"], prepare: { root in
                            try DataFilesFixture.copy(Self.dataset, to: root)
                        }, environment: ["ARC_MEMORY_BYTES": "8000000000"]),
        ])
    }

    func testNpyShapeWhoseSizeOverflows() throws {
        try HostileInputHarness.check([
            trainCase("inputs.npy with shape (2^62, 16)", file: "built/train/all__inputs.npy", mentions: ["shape"]) { root in
                let url = root.appendingPathComponent("built/train/all__inputs.npy")
                let header = NpyHeader(dtype: .uint8, shape: [1 << 62, 16]).encoded()
                try Data(header + [UInt8](repeating: 2, count: 64)).write(to: url)
            },
            trainCase("group_indices.npy with shape (2^61,) of int32", file: "built/train/all__group_indices.npy", mentions: ["shape"]) { root in
                let url = root.appendingPathComponent("built/train/all__group_indices.npy")
                try Data(NpyHeader(dtype: .int32, shape: [1 << 61]).encoded() + [0, 0, 0, 0]).write(to: url)
            },
        ])
    }

    func testDatasetFieldsOutOfRange() throws {
        let meta = "built/train/dataset.json"
        try HostileInputHarness.check([
            trainCase("a token >= vocab_size", file: "built/train/all__inputs.npy", mentions: ["token 12", "vocab_size"]) {
                try $0.editNpy("built/train/all__inputs.npy", byte: 5, to: 12)
            },
            trainCase("a label >= vocab_size", file: "built/train/all__labels.npy", mentions: ["label 200", "vocab_size"]) {
                try $0.editNpy("built/train/all__labels.npy", byte: 3, to: 200)
            },
            trainCase("vocab_size 2^62", file: meta, mentions: ["vocab_size", "4611686018427387904"]) {
                try $0.editJSON(meta, "vocab_size", "4611686018427387904")
            },
            trainCase("ignore_label_id 300", file: meta, mentions: ["ignore_label_id", "300"]) { try $0.editJSON(meta, "ignore_label_id", "300") },
            trainCase("mean_puzzle_examples 1e300", file: meta, mentions: ["mean_puzzle_examples"]) { try $0.editJSON(meta, "mean_puzzle_examples", "1e300") },
            trainCase("seq_len that disagrees with the arrays", file: "built/train/all__inputs.npy", mentions: ["seq_len 25"]) {
                try $0.editJSON(meta, "seq_len", "25")
            },
            trainCase("num_puzzle_identifiers 2^62", file: meta, mentions: ["num_puzzle_identifiers"]) {
                try $0.editJSON(meta, "num_puzzle_identifiers", "4611686018427387904")
            },
            trainCase("a group with 0 puzzles", file: "built/train/all__group_indices.npy", mentions: ["group 0 has no puzzles"]) { root in
                let url = root.appendingPathComponent("built/train/all__group_indices.npy")
                var groups = try NpyFile(contentsOf: url).int32Values()
                groups[1] = 0
                try NpyFile.write(int32: groups, shape: [groups.count], to: url)
            },
            trainCase("puzzle_indices past the examples", file: "built/train/all__puzzle_indices.npy", mentions: ["puzzle_indices"]) { root in
                let url = root.appendingPathComponent("built/train/all__puzzle_indices.npy")
                var offsets = try NpyFile(contentsOf: url).int32Values()
                offsets[offsets.count - 1] += 1000
                try NpyFile.write(int32: offsets, shape: [offsets.count], to: url)
            },
            trainCase("puzzle_indices not monotone", file: "built/train/all__puzzle_indices.npy", mentions: ["decreases"]) { root in
                let url = root.appendingPathComponent("built/train/all__puzzle_indices.npy")
                var offsets = try NpyFile(contentsOf: url).int32Values()
                offsets[2] = offsets[1] - 1
                try NpyFile.write(int32: offsets, shape: [offsets.count], to: url)
            },
            trainCase("a puzzle identifier >= num_puzzle_identifiers", file: "built/train/all__puzzle_identifiers.npy", mentions: ["num_puzzle_identifiers"]) { root in
                let url = root.appendingPathComponent("built/train/all__puzzle_identifiers.npy")
                var identifiers = try NpyFile(contentsOf: url).int32Values()
                identifiers[0] = 100_000
                try NpyFile.write(int32: identifiers, shape: [identifiers.count], to: url)
            },
            trainCase("build_info canvas 31", file: "built/build_info.json", mentions: ["canvas", "31"]) { try $0.editJSON("built/build_info.json", "canvas", "31") },
        ])
    }

    // MARK: Evaluate: canvas, checkpoints, NaN weights

    /// `evaluate` of the fixture's dataset with the model file `m.safetensors` made by `make`.
    private func evaluateCase(_ name: String, mentions: [String], model: String = "m.safetensors", _ make: @escaping (URL) throws -> Void) -> HostileCase {
        HostileCase(name: name, arguments: ["evaluate", "--dataset", "built", "--model", model, "--out", "sub", "--threads", "1", "--quiet"],
                    errorMentions: mentions, prepare: { root in
                        try DataFilesFixture.copy(Self.dataset, to: root)
                        let source = try DataFilesFixture.latest("run", in: DataFilesFixture.template()).appendingPathComponent("model.safetensors")
                        try FileManager.default.copyItem(at: source, to: root.appendingPathComponent("m.safetensors"))
                        try make(root)
                    })
    }

    /// Rewrites m.safetensors with its stored config's `field` set to `value`.
    private static func editConfig(_ root: URL, _ field: String, _ value: Any) throws {
        let url = root.appendingPathComponent("m.safetensors")
        var file = try SafeTensorsFile.read(url)
        var config = try XCTUnwrap(JSONSerialization.jsonObject(with: Data(try XCTUnwrap(file.metadata["config"]).utf8)) as? [String: Any])
        config[field] = value
        file.metadata["config"] = String(decoding: try JSONSerialization.data(withJSONObject: config, options: [.sortedKeys]), as: UTF8.self)
        try file.write(to: url)
    }

    /// A safetensors file from header text and a body of zeros.
    private static func handMade(_ root: URL, header: String, body: Int = 64) throws {
        var data = Data()
        var length = UInt64(header.utf8.count).littleEndian
        withUnsafeBytes(of: &length) { data.append(contentsOf: $0) }
        data.append(contentsOf: Array(header.utf8) + [UInt8](repeating: 0, count: body))
        try data.write(to: root.appendingPathComponent("m.safetensors"))
    }

    func testEvaluateRefusesBrokenModelsAndCanvases() throws {
        try HostileInputHarness.check([
            evaluateCase("build_info canvas 0", mentions: ["built/build_info.json", "canvas"]) { try $0.editJSON("built/build_info.json", "canvas", "0") },
            evaluateCase("build_info canvas 3 (seq_len 16)", mentions: ["built/build_info.json", "canvas"]) { try $0.editJSON("built/build_info.json", "canvas", "3") },
            evaluateCase("config numHeads 0", mentions: ["m.safetensors", "numHeads"]) { try Self.editConfig($0, "numHeads", 0) },
            evaluateCase("config hidden size not divisible by the heads", mentions: ["m.safetensors", "numHeads"]) { try Self.editConfig($0, "numHeads", 3) },
            evaluateCase("config expansion 0", mentions: ["m.safetensors", "expansion"]) { try Self.editConfig($0, "expansion", 0) },
            evaluateCase("config hLayers 0", mentions: ["m.safetensors", "hLayers"]) { try Self.editConfig($0, "hLayers", 0) },
            evaluateCase("config halt_max_steps 0", mentions: ["m.safetensors", "haltMaxSteps"]) { try Self.editConfig($0, "haltMaxSteps", 0) },
            evaluateCase("config negative lCycles", mentions: ["m.safetensors", "lCycles"]) { try Self.editConfig($0, "lCycles", -2) },
            evaluateCase("NaN weights", mentions: ["m.safetensors", "model.inner.lm_head.weight"]) { root in
                let url = root.appendingPathComponent("m.safetensors")
                var file = try SafeTensorsFile.read(url)
                let name = "model.inner.lm_head.weight"
                let tensor = try XCTUnwrap(file[name])
                file.tensors[name] = SafeTensor(name: name, shape: tensor.shape, floats: [Float](repeating: .nan, count: tensor.count))
                try file.write(to: url)
            },
            evaluateCase("safetensors shape [2^62, 4]", mentions: ["m.safetensors", "tensor w"]) {
                try Self.handMade($0, header: #"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,16]}}"#)
            },
            evaluateCase("safetensors offsets overlapping", mentions: ["m.safetensors", "overlap"]) {
                try Self.handMade($0, header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[4],"data_offsets":[8,24]}}"#)
            },
            evaluateCase("safetensors offsets past the body", mentions: ["m.safetensors", "data_offsets"]) {
                try Self.handMade($0, header: #"{"a":{"dtype":"F32","shape":[4],"data_offsets":[1e30,1e30]}}"#)
            },
            evaluateCase("safetensors header length 2^63", mentions: ["m.safetensors", "header length"]) { root in
                var data = Data([0, 0, 0, 0, 0, 0, 0, 0x80])
                data.append(contentsOf: [UInt8](repeating: 0x20, count: 64))
                try data.write(to: root.appendingPathComponent("m.safetensors"))
            },
        ])
    }

    /// `evaluate --model RUN` writes the report with the run's training time: a train_seconds in
    /// config.json, or a last elapsed_seconds in metrics.jsonl, that no run can take is shown as "? (...)".
    func testEvaluateReportsTrainingTimesOutOfRange() throws {
        for (file, seconds, shown) in [("config.json", "1e300", "1e+300"), ("metrics.jsonl", "-1e300", "-1e+300")] {
            let root = try HostileInputHarness.makeSandbox()
            defer { try? FileManager.default.removeItem(at: root) }
            try DataFilesFixture.copy(Self.dataset + ["run"], to: root)
            let url = root.appendingPathComponent("run/\(file)")
            let text = try String(contentsOf: url, encoding: .utf8)
            let edited: String
            if file == "config.json" {
                edited = "{\"train_seconds\": \(seconds), " + text.drop { $0 != "{" }.dropFirst()
            } else {
                var lines = text.split(separator: "\n").map(String.init)
                let last = lines.removeLast()
                let range = try XCTUnwrap(last.range(of: "\"elapsed_seconds\": "), last)
                let end = try XCTUnwrap(last[range.upperBound...].firstIndex { $0 == "," || $0 == "}" })
                lines.append(last.replacingCharacters(in: range.upperBound..<end, with: seconds))
                edited = lines.joined(separator: "\n") + "\n"
            }
            try Data(edited.utf8).write(to: url)
            let result = try PipelineExecutable.run(["evaluate", "--dataset", "built", "--model", "run", "--out", "sub", "--threads", "1", "--quiet"], in: root)
            XCTAssertEqual(result.status, 0, "\(seconds) in \(file): \(result.stderr)")
            for marker in HostileInputHarness.trapMarkers { XCTAssertFalse(result.stderr.contains(marker), "\(file): \(result.stderr)") }
            let html = try String(contentsOf: root.appendingPathComponent("sub/report.html"), encoding: .utf8)
            XCTAssertTrue(html.contains("data-metric=\"train_seconds\">? (\(shown) s)<"), "\(seconds) in \(file)")
        }
    }

    // MARK: Resume

    /// `train --resume` of a copy of the fixture's run after `edit`.
    private func resumeCase(_ name: String, extra: [String] = [], mentions: [String], _ edit: @escaping (URL) throws -> Void) -> HostileCase {
        HostileCase(name: name, arguments: ["train", "--dataset", "built", "--out", "run", "--resume", "--max-steps", "4", "--threads", "1", "--quiet"] + extra,
                    errorMentions: mentions, prepare: { root in
                        try DataFilesFixture.copy(Self.dataset + ["run", "run-b2"], to: root)
                        try edit(root)
                    }, mayChange: ["run/.arc-pipeline.lock"])  // the run lock names its holder's PID
    }

    /// Rewrites one int32 tensor of the run's latest state file.
    private static func editState(_ root: URL, _ name: String, _ values: [Int32]) throws {
        let url = try DataFilesFixture.latest("run", in: root).appendingPathComponent("state.safetensors")
        var file = try SafeTensorsFile.read(url)
        file.tensors[name] = SafeTensor(name: name, shape: [values.count], int32: values)
        try file.write(to: url)
    }

    func testResumeRefusesStatesThatDoNotFit() throws {
        try HostileInputHarness.check([
            resumeCase("--resume --batch-size 2 on a run trained at 4", extra: ["--batch-size", "2"], mentions: ["run/config.json", "batch size 4", "--batch-size 2"]) { _ in },
            resumeCase("--resume with another --lr and --hidden-size", extra: ["--lr", "0.5", "--hidden-size", "64"],
                       mentions: ["run/config.json", "--lr 0.5 (the run has", "--hidden-size 64 (the run has"]) { _ in },
            resumeCase("a trainer state from a run with batch size 2", mentions: ["state.safetensors", "batch size 2", "batch size 4"]) { root in
                let state = try DataFilesFixture.latest("run", in: root).appendingPathComponent("state.safetensors")
                try FileManager.default.removeItem(at: state)
                try FileManager.default.copyItem(at: DataFilesFixture.latest("run-b2", in: root).appendingPathComponent("state.safetensors"), to: state)
            },
            resumeCase("sampler.group_order out of range", mentions: ["state.safetensors", "sampler.group_order"]) { root in
                let url = try DataFilesFixture.latest("run", in: root).appendingPathComponent("state.safetensors")
                let count = try XCTUnwrap(SafeTensorsFile.read(url)["sampler.group_order"]?.count)
                try Self.editState(root, "sampler.group_order", (0..<Int32(count)).map { $0 == 0 ? 1_000_000 : $0 })
            },
            resumeCase("act.current_identifiers out of range", mentions: ["state.safetensors", "act.current_identifiers"]) {
                try Self.editState($0, "act.current_identifiers", [1, 2, 99_999, 1])
            },
            resumeCase("config.json with numHeads 0", mentions: ["run/config.json", "numHeads"]) { root in
                let url = root.appendingPathComponent("run/config.json")
                let text = try String(contentsOf: url, encoding: .utf8)
                try Data(text.replacingOccurrences(of: "\"numHeads\":2", with: "\"numHeads\":0").utf8).write(to: url)
                XCTAssertNotEqual(try String(contentsOf: url, encoding: .utf8), text, "the fixture's config.json spells numHeads as expected")
            },
        ])
    }
}
