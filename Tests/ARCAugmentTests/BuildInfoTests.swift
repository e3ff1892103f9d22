// build_info.json as one typed value (BuildInfo): the writer's bytes in bucket mode with every
// list filled (the single-canvas bytes are pinned by LegacyLayoutGoldenTests), a read gives the
// value back, older files without "leaks" still read, bad files are refused naming the file and
// the field, and every build option either is one of the recorded inputs (train-eval's reuse
// check compares them all) or is listed here as one that does not change the dataset.
import ARCCore
import Foundation
@testable import ARCAugment
import XCTest

final class BuildInfoTests: XCTestCase {
    static func options() -> DatasetBuildOptions {
        var options = DatasetBuildOptions()
        options.numAug = 3
        options.seed = 9
        options.canvasBuckets = [8, 30]
        options.taskFilter = ["b", "a", "e1"]
        options.maxTasksPerSet = 5
        return options
    }

    /// A bucket-mode build with a task left out, a renamed task, two leaks and a test output that does not fit.
    static func info() -> BuildInfo {
        var summary = DatasetBuildSummary(output: URL(fileURLWithPath: "/unused"))
        summary.leftOut = [LeftOutTask(set: "t:1", task: "big", reason: "grid 31x2 \"too\" large")]
        summary.renamed = [(from: "b", to: "b-t-2")]
        summary.leaks = [(training: "z", evaluation: "e1"), (training: "a", evaluation: "e1")]
        summary.tasksPerBucket = [30: 1, 8: 3]
        summary.testOutputsNotFitting = [(task: "e1", test: 0)]
        let inputs = BuildInfo.Inputs(options: options(), training: ["t:1", "t/2"], evaluation: ["e:eval"])
        return BuildInfo(inputs: inputs, summary: summary, tasks: 4, identifiers: 17)
    }

    /// The earlier string-built writer's layout, key by key.
    static let expected = #"{"format": "hrm-arc", "num_aug": 3, "seed": 9, "canvas": 30, "retries_factor": 5, "training": ["t:1", "t/2"], "#
        + #""evaluation": ["e:eval"], "task_filter": ["a", "b", "e1"], "max_tasks_per_set": 5, "tasks": 4, "identifiers": 17, "#
        + #""left_out": [{"set": "t:1", "task": "big", "reason": "grid 31x2 \"too\" large"}], "renamed": {"b-t-2": "b"}, "#
        + #""leaks": {"z": "e1", "a": "e1"}, "canvas_buckets": [8, 30], "tasks_per_bucket": {"c8": 3, "c30": 1}, "#
        + #""test_outputs_not_fitting": 1, "test_outputs_not_fitting_list": [{"task": "e1", "test": 0}]}"# + "\n"

    func testBucketModeTextAndRoundTrip() throws {
        let info = Self.info()
        XCTAssertEqual(try info.text(), Self.expected)
        XCTAssertEqual(try JSONDecoder().decode(BuildInfo.self, from: Data(Self.expected.utf8)), info)
        XCTAssertEqual(try JSONDecoder().decode(BuildInfo.self, from: JSONEncoder().encode(info)), info, "Codable both ways")

        // A single canvas: the bucket keys are absent, and a read gives the value back.
        var options = Self.options()
        options.canvasBuckets = nil
        options.canvas = 12
        options.taskFilter = nil
        options.maxTasksPerSet = nil
        var single = BuildInfo(inputs: BuildInfo.Inputs(options: options, training: ["t"], evaluation: []),
                               summary: DatasetBuildSummary(output: URL(fileURLWithPath: "/unused")), tasks: 1, identifiers: 2)
        let text = try single.text()
        XCTAssertEqual(text, #"{"format": "hrm-arc", "num_aug": 3, "seed": 9, "canvas": 12, "retries_factor": 5, "training": ["t"], "evaluation": [], "#
                       + #""task_filter": null, "max_tasks_per_set": null, "tasks": 1, "identifiers": 2, "left_out": [], "renamed": {}, "leaks": {}}"# + "\n")
        XCTAssertEqual(try JSONDecoder().decode(BuildInfo.self, from: Data(text.utf8)), single)
        single.inputs.seed = UInt64(Int64.max) + 1
        XCTAssertThrowsError(try single.text()) { XCTAssertTrue("\($0)".contains("seed"), "\($0)") }
    }

    func testReadingNamesTheFileAndField() throws {
        let folder = try TestSupport.temporaryDirectory("build-info")
        defer { try? FileManager.default.removeItem(at: folder) }
        try Self.info().write(datasetDirectory: folder)
        XCTAssertEqual(try Data(contentsOf: BuildInfo.url(in: folder)), Data(Self.expected.utf8))
        XCTAssertEqual(try BuildInfo.read(datasetDirectory: folder), Self.info())

        // Datasets built before leaks were recorded.
        let withoutLeaks = Self.expected.replacingOccurrences(of: #""leaks": {"z": "e1", "a": "e1"}, "#, with: "")
        XCTAssertNotEqual(withoutLeaks, Self.expected)
        try Data(withoutLeaks.utf8).write(to: BuildInfo.url(in: folder))
        XCTAssertEqual(try BuildInfo.read(datasetDirectory: folder).leaks, BuildInfo.NamedValues([]))

        let cases: [(String, String, String)] = [
            ("another format", Self.expected.replacingOccurrences(of: "hrm-arc", with: "other"), "format"),
            ("no num_aug", Self.expected.replacingOccurrences(of: #""num_aug": 3, "#, with: ""), "num_aug"),
            ("a string seed", Self.expected.replacingOccurrences(of: #""seed": 9"#, with: #""seed": "9""#), "seed"),
            ("a negative seed", Self.expected.replacingOccurrences(of: #""seed": 9"#, with: #""seed": -9"#), "seed"),
            ("not JSON", "{\"format\": ", "build_info.json"),
        ]
        for (name, text, field) in cases {
            XCTAssertNotEqual(text, Self.expected, name)
            try Data(text.utf8).write(to: BuildInfo.url(in: folder))
            XCTAssertThrowsError(try BuildInfo.read(datasetDirectory: folder), name) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains(BuildInfo.url(in: folder).path) && message.contains(field), "\(name): \(message)")
                XCTAssertFalse(message.contains("\n") || message.contains("DecodingError"), "\(name): \(message)")
            }
        }
    }

    /// Every option of DatasetBuildOptions is either recorded in the inputs (changing it changes
    /// them) or listed as not changing the dataset's bytes; an option added later fails here until
    /// it is placed in one of the two lists.
    func testEveryBuildOptionIsRecordedOrDoesNotChangeTheDataset() throws {
        let base = Self.options()
        let recorded: [(String, (inout DatasetBuildOptions) -> Void)] = [
            ("numAug", { $0.numAug += 1 }), ("seed", { $0.seed += 1 }), ("canvasBuckets", { $0.canvasBuckets = [10, 30] }),
            ("canvas", { $0.canvasBuckets = nil; $0.canvas = 12 }), ("retriesFactor", { $0.retriesFactor += 1 }),
            ("taskFilter", { $0.taskFilter = ["a"] }), ("maxTasksPerSet", { $0.maxTasksPerSet = nil }),
        ]
        let speedOnly: [(String, (inout DatasetBuildOptions) -> Void)] = [
            ("threads", { $0.threads += 3 }), ("window", { $0.window += 1 }), ("chunkBytes", { $0.chunkBytes /= 2 }),
        ]
        let labels = Set(Mirror(reflecting: base).children.compactMap(\.label))
        XCTAssertEqual(labels, Set((recorded + speedOnly).map(\.0)), "classify each DatasetBuildOptions field in this test")
        let inputs = BuildInfo.Inputs(options: base, training: ["t"], evaluation: ["e"])
        for (name, change) in recorded {
            var changed = base
            change(&changed)
            XCTAssertNotEqual(BuildInfo.Inputs(options: changed, training: ["t"], evaluation: ["e"]), inputs, name)
        }
        for (name, change) in speedOnly {
            var changed = base
            change(&changed)
            XCTAssertEqual(BuildInfo.Inputs(options: changed, training: ["t"], evaluation: ["e"]), inputs, name)
        }
        XCTAssertNotEqual(BuildInfo.Inputs(options: base, training: ["t", "u"], evaluation: ["e"]), inputs, "the sources")
        XCTAssertNotEqual(BuildInfo.Inputs(options: base, training: ["t"], evaluation: []), inputs, "the sources' roles")
    }
}
