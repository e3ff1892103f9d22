// The run configuration (config.json) and train-eval's reuse decision: changing any single field
// of the training configuration, found by walking its JSON (so a field added later is covered
// without editing this test), makes it another run; every stored property is in that JSON; the
// file round-trips; and config.json files of the earlier flat layout still read.
import ARCCore
import Foundation
import HRM
import Training
import XCTest

final class RunConfigurationTests: XCTestCase {
    /// A configuration with every optional field set, so that each one is in the JSON.
    static func configuration() -> TrainingConfiguration {
        var trainer = TrainerOptions.preset(.cpu)
        trainer.batchSize = 4
        trainer.totalSteps = 450
        trainer.seed = 3
        return TrainingConfiguration(model: ResumeTests.tinyConfig(), trainer: trainer, epochs: 100, maxSteps: 6, timeBudgetSeconds: 300,
                                     logInterval: 10, checkpointInterval: 100, datasetDigest: String(repeating: "ab", count: 32))
    }

    static func object(_ data: Data) throws -> [String: Any] {
        try XCTUnwrap(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    /// Every stored property of the configuration and of the structs in it is a key of its JSON
    /// (a field left out of the encoding, or nil in `configuration()`, fails here).
    func testEveryStoredPropertyIsEncoded() throws {
        let base = Self.configuration()
        let json = try Self.object(try base.canonicalJSON())
        func labels(_ value: Any) -> Set<String> { Set(Mirror(reflecting: value).children.compactMap(\.label)) }
        XCTAssertEqual(Set(json.keys), labels(base))
        // Fields added with TRM are written only when they differ from HRM's values (so an HRM run keeps
        // its reuse key); everything else always.
        let writtenWhenSet: Set<String> = ["architecture", "puzzleEmbeddingLength", "noACTContinue"]
        XCTAssertEqual(Set(try XCTUnwrap(json["model"] as? [String: Any]).keys), labels(base.model).subtracting(writtenWhenSet))
        XCTAssertEqual(Set(try XCTUnwrap(json["trainer"] as? [String: Any]).keys), labels(base.trainer).subtracting(["emaRate"]))
        XCTAssertNil(json["model"].flatMap { ($0 as? [String: Any])?["batchSize"] }, "the batch size is the trainer's only")
        // Set, they are written.
        var trm = base
        trm.model = .trm(hiddenSize: 8, numHeads: 2, lLayers: 1, hCycles: 2, lCycles: 2, haltMaxSteps: 2, puzzleEmbeddingLength: 2,
                         numPuzzleIdentifiers: 3, seqLen: 9)
        trm.trainer.emaRate = 0.999
        let trmJSON = try Self.object(try trm.canonicalJSON())
        XCTAssertEqual(Set(try XCTUnwrap(trmJSON["model"] as? [String: Any]).keys), labels(trm.model))
        XCTAssertEqual(Set(try XCTUnwrap(trmJSON["trainer"] as? [String: Any]).keys), labels(trm.trainer))
        XCTAssertEqual(try JSONDecoder().decode(TrainingConfiguration.self, from: trm.canonicalJSON()), trm)
        XCTAssertFalse(try trm.isSameRun(as: base))
    }

    /// Table-driven over the JSON's leaves: each single change gives another run (and another
    /// digest, the SHA-256 of these bytes); the unchanged configuration is the same run after a
    /// write and a read.
    func testAnySingleFieldChangeIsAnotherRun() throws {
        let base = Self.configuration()
        let baseJSON = try Self.object(try base.canonicalJSON())
        XCTAssertTrue(try base.isSameRun(as: JSONDecoder().decode(TrainingConfiguration.self, from: base.canonicalJSON())))

        var leaves: [[String]] = []
        func walk(_ object: [String: Any], _ path: [String]) {
            for (key, value) in object {
                if let inner = value as? [String: Any] { walk(inner, path + [key]) } else { leaves.append(path + [key]) }
            }
        }
        walk(baseJSON, [])
        XCTAssertGreaterThanOrEqual(leaves.count, 30, "model, trainer and run fields")

        func replacing(_ object: [String: Any], _ path: ArraySlice<String>, _ value: Any) -> [String: Any] {
            var copy = object
            guard let key = path.first else { return copy }
            if path.count == 1 { copy[key] = value } else { copy[key] = replacing(object[key] as? [String: Any] ?? [:], path.dropFirst(), value) }
            return copy
        }
        func value(at path: [String]) -> Any? {
            var current: Any? = baseJSON
            for key in path { current = (current as? [String: Any])?[key] }
            return current
        }
        for path in leaves {
            let name = path.joined(separator: ".")
            let original = try XCTUnwrap(value(at: path), name)
            // Other values of the same kind; the first one that still decodes (a valid model) is used.
            let candidates: [Any]
            if let text = original as? String {
                candidates = [text + "0", "other"]
            } else if let number = original as? NSNumber {
                let x = number.doubleValue
                candidates = [x * 2, x + 1, x + 0.5, x / 2, x - 1].filter { $0 != x }.map { $0 == $0.rounded() ? NSNumber(value: Int64($0)) : NSNumber(value: $0) }
            } else {
                XCTFail("\(name): a JSON leaf of an unexpected kind (\(type(of: original))); teach this test to change it")
                continue
            }
            var changed: TrainingConfiguration? = nil
            for candidate in candidates {
                let data = try JSONSerialization.data(withJSONObject: replacing(baseJSON, path[...], candidate))
                if let decoded = try? JSONDecoder().decode(TrainingConfiguration.self, from: data) { changed = decoded; break }
            }
            guard let changed else { XCTFail("\(name): no other value decodes; teach this test a valid change"); continue }
            XCTAssertFalse(try changed.isSameRun(as: base), "changing \(name) must not reuse the run")
            XCTAssertNotEqual(try changed.canonicalJSON(), try base.canonicalJSON(), name)
        }
        // Present versus absent.
        var noBudget = base
        noBudget.timeBudgetSeconds = nil
        XCTAssertFalse(try noBudget.isSameRun(as: base))
    }

    func testRunConfigurationRoundTripsThroughTheFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("run-config-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = RunConfiguration(training: Self.configuration(), codeVersion: "arc-pipeline test", preset: "cpu", overrides: "--batch-size 4",
                                   dataset: "/data/built/a/b", threads: 1, parameters: 12345, trainingTimeBudgetSeconds: 250, createdAt: "2026-01-01T00:00:00Z",
                                   precision: "bf16 (emulated)")
        try run.write(runDirectory: folder)
        let text = try String(contentsOf: RunConfiguration.url(in: folder), encoding: .utf8)
        XCTAssertTrue(text.contains("\"precision\":\"bf16 (emulated)\""), text)
        XCTAssertTrue(text.hasSuffix("}\n") && text.filter { $0 == "\n" }.count == 1, "one line")
        XCTAssertTrue(text.contains("\"dataset\":\"/data/built/a/b\""), "paths are written as they are")
        XCTAssertTrue(text.contains("\"numHeads\":2"), "compact: a value is found by its key")
        XCTAssertEqual(try Self.object(Data(text.utf8))["format"] as? String, RunConfiguration.currentFormat)
        let read = try RunConfiguration.read(runDirectory: folder)
        XCTAssertEqual(read, run)
        XCTAssertTrue(try read.training.isSameRun(as: run.training))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: folder.path), ["config.json"], "no temporary file is left")
        // A file from before the precision was recorded reads as nil.
        var old = try Self.object(Data(text.utf8))
        old["precision"] = nil
        try JSONSerialization.data(withJSONObject: old).write(to: RunConfiguration.url(in: folder))
        XCTAssertNil(try RunConfiguration.read(runDirectory: folder).precision)
    }

    /// config.json as the earlier version wrote it (flat snake_case keys beside "model", whose
    /// batchSize and haltExplorationProbability were the trainer's, and "trainer").
    static let flatLayout = """
        {"code_version":"arc-pipeline 0.1.0","preset":"cpu","overrides":"--hidden-size 16 --heads 2 --halt-max-steps 2 --batch-size 4",\
        "dataset":"/tmp/built/arc2-aug2-c4-s42","dataset_digest":"0e04abc49aa3c89d853da649da3bbe86f7914cce9153a35bebfd0b7da7c2ad82",\
        "seed":3,"threads":1,"hidden_size":16,"num_heads":2,"H_layers":1,"L_layers":1,"H_cycles":2,"L_cycles":2,"halt_max_steps":2,\
        "puzzle_emb_ndim":16,"num_puzzle_identifiers":22,"seq_len":16,"batch_size":4,"lr":0.001,"puzzle_emb_lr":0.01,"weight_decay":0.1,\
        "warmup_steps":20,"total_steps":450,"max_steps":6,"epochs":100.0,"time_budget_seconds":null,"parameters":27042,\
        "model":{"batchSize":4,"expansion":4,"hCycles":2,"hLayers":1,"haltExplorationProbability":0.1,"haltMaxSteps":2,"hiddenSize":16,\
        "lCycles":2,"lLayers":1,"numHeads":2,"numPuzzleIdentifiers":21,"puzzleEmbeddingDim":16,"rmsNormEpsilon":1e-05,"ropeTheta":10000,\
        "seqLen":16,"vocabSize":12},"trainer":{"batchSize":4,"beta1":0.9,"beta2":0.95,"explorationProbability":0.1,"haltMaxSteps":2,\
        "learningRate":0.001,"lrMinRatio":1,"puzzleEmbeddingLearningRate":0.01,"puzzleEmbeddingWeightDecay":0.1,"seed":3,"totalSteps":450,\
        "warmupSteps":20,"weightDecay":0.1},"created_at":"2026-11-29T23:14:39Z"}

        """

    func testTheEarlierFlatLayoutStillReads() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("run-config-flat-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        try Data(Self.flatLayout.utf8).write(to: RunConfiguration.url(in: folder))
        let run = try RunConfiguration.read(runDirectory: folder)
        XCTAssertEqual(run.format, RunConfiguration.flatFormat)
        XCTAssertEqual(run.training.model.hiddenSize, 16)
        XCTAssertEqual(run.training.model.numPuzzleIdentifiers, 21)
        XCTAssertEqual(run.training.trainer.batchSize, 4)
        XCTAssertEqual(run.training.trainer.seed, 3)
        XCTAssertEqual(run.training.maxSteps, 6)
        XCTAssertNil(run.training.timeBudgetSeconds)
        XCTAssertEqual(run.training.datasetDigest, "0e04abc49aa3c89d853da649da3bbe86f7914cce9153a35bebfd0b7da7c2ad82")
        XCTAssertEqual(run.training.logInterval, TrainingConfiguration.defaultLogInterval)
        XCTAssertEqual(run.overrides, "--hidden-size 16 --heads 2 --halt-max-steps 2 --batch-size 4")
        XCTAssertEqual(run.parameters, 27042)
        XCTAssertEqual(run.parameters, ParameterLayout(config: run.training.model).parameterCount)

        // What a run needs is required; errors are one line naming the file and the field.
        for (edit, field) in [("\"model\":", "model"), ("\"dataset_digest\":", "dataset_digest"), ("\"trainer\":", "trainer")] {
            try Data(Self.flatLayout.replacingOccurrences(of: edit, with: "\"x_\(field)\":").utf8).write(to: RunConfiguration.url(in: folder))
            XCTAssertThrowsError(try RunConfiguration.read(runDirectory: folder), field) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains("config.json") && message.contains(field) && !message.contains("\n"), message)
                XCTAssertFalse(message.contains("DecodingError") || message.contains("NSCocoaErrorDomain"), message)
            }
        }
    }

    func testOtherFormatsAndBrokenFilesAreRefusedNamingTheFile() throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("run-config-bad-\(UUID().uuidString.prefix(8))")
        defer { try? FileManager.default.removeItem(at: folder) }
        let run = RunConfiguration(training: Self.configuration(), codeVersion: "v", preset: "cpu", overrides: "none", dataset: "d",
                                   threads: 1, parameters: 1, trainingTimeBudgetSeconds: nil, createdAt: "t")
        try run.write(runDirectory: folder)
        let good = try String(contentsOf: RunConfiguration.url(in: folder), encoding: .utf8)
        let cases: [(String, String, [String])] = [
            ("a later format", good.replacingOccurrences(of: RunConfiguration.currentFormat, with: "arc-pipeline-run-9"), ["format", "arc-pipeline-run-9"]),
            ("numHeads 0", good.replacingOccurrences(of: "\"numHeads\":2", with: "\"numHeads\":0"), ["numHeads"]),
            ("no trainer", good.replacingOccurrences(of: "\"trainer\":", with: "\"trainers\":"), ["trainer"]),
            ("not JSON", "{\"format\": ", ["config.json"]),
            ("an array", "[1, 2]", ["config.json"]),
        ]
        for (name, text, mentions) in cases {
            XCTAssertNotEqual(text, good, name)
            try Data(text.utf8).write(to: RunConfiguration.url(in: folder))
            XCTAssertThrowsError(try RunConfiguration.read(runDirectory: folder), name) { error in
                let message = "\(error)"
                XCTAssertTrue(message.contains(RunConfiguration.url(in: folder).path), "\(name): \(message)")
                for mention in mentions { XCTAssertTrue(message.contains(mention), "\(name): \(message)") }
                XCTAssertFalse(message.contains("\n") || message.contains("DecodingError") || message.contains("NSCocoaErrorDomain"), "\(name): \(message)")
            }
        }
        try FileManager.default.removeItem(at: RunConfiguration.url(in: folder))
        XCTAssertThrowsError(try RunConfiguration.read(runDirectory: folder)) { XCTAssertTrue("\($0)".contains("not a run folder"), "\($0)") }
    }
}
