// Crash-safe training checkpoints. Each checkpoint is a folder
// `checkpoints/step-NNNNNNNN/` holding `model.safetensors` (the reference's state_dict names,
// the model config in the metadata) and `state.safetensors` (AdamATan2 moments, the sampler,
// the exploration RNG, the ACT carry and the slots' data: everything exact resume needs).
// The folder is written under a temporary name and renamed; then the file `latest` (written
// atomically) names it. A step saved again moves its old folder aside before the new one is renamed
// in. A crash at any point leaves a complete checkpoint: the one `latest` names, or, when a crash
// came between a rename and the write of `latest` (which then is missing or names an absent folder),
// the complete `step-N` folder of the highest step, which `latest()` falls back to (`fallbackNote()`
// says so, for the commands to print).
// Reading a state checks it against the trainer that will resume from it (`check(_:against:source:)`):
// a state from another run, batch size or dataset, or an edited one, is refused with the field named.
import ARCCore
import Foundation
import HRM
import Kernels

public enum CheckpointError: Error, CustomStringConvertible {
    case missing(String)
    case invalid(String)
    public var description: String {
        switch self {
        case let .missing(m): return "no checkpoint: \(m)"
        case let .invalid(m): return "invalid checkpoint: \(m)"
        }
    }
}

public struct CheckpointStore {
    public let runDirectory: URL
    /// How many checkpoints to keep (older folders are deleted after `latest` moved on).
    public var keep = 2

    public init(runDirectory: URL) { self.runDirectory = runDirectory }

    var checkpoints: URL { runDirectory.appendingPathComponent("checkpoints") }
    var latestFile: URL { checkpoints.appendingPathComponent("latest") }

    public static func folderName(step: Int) -> String { "step-" + String(format: "%08d", step) }

    /// The checkpoint to resume or evaluate: the folder `latest` names when it is complete, else the
    /// complete `step-N` folder of the highest step (a process killed between a checkpoint's rename and
    /// the write of `latest`, or while a step's folder was being replaced, leaves `latest` missing or
    /// naming a folder that is not there; the checkpoints beside it still count). Nil when there is none.
    public func latest() -> URL? {
        if let name = try? String(contentsOf: latestFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !name.isEmpty,
           !name.contains("/"), Self.isComplete(checkpoints.appendingPathComponent(name)) {
            return checkpoints.appendingPathComponent(name)
        }
        return completeFolders().last.map { checkpoints.appendingPathComponent($0.name) }
    }

    /// When `latest()` does not return the folder the file `latest` names: one line saying what it names
    /// and which checkpoint is used instead (nil when `latest` is used as it is, or there is none).
    public func fallbackNote() -> String? {
        guard let used = latest() else { return nil }
        let named = (try? String(contentsOf: latestFile, encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines)
        guard named != used.lastPathComponent else { return nil }
        let what = named.map { $0.isEmpty ? "checkpoints/latest is empty" : "checkpoints/latest names \($0), which is missing or incomplete" }
            ?? "checkpoints/latest is missing"
        return "\(what); using the newest complete checkpoint, \(used.lastPathComponent)"
    }

    /// Whether a checkpoint folder holds both of its files (a folder is renamed into place only when they are written).
    static func isComplete(_ folder: URL) -> Bool {
        let fm = FileManager.default
        return fm.fileExists(atPath: folder.appendingPathComponent("state.safetensors").path)
            && fm.fileExists(atPath: folder.appendingPathComponent("model.safetensors").path)
    }

    /// The step of a checkpoint folder's name (`step-` and digits), nil for any other name.
    static func step(ofFolder name: String) -> Int? {
        guard name.hasPrefix("step-") else { return nil }
        let digits = name.dropFirst(5)
        guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isNumber }) else { return nil }
        return Int(digits)
    }

    /// The complete `step-N` folders, by step.
    func completeFolders() -> [(name: String, step: Int)] {
        guard let items = try? FileManager.default.contentsOfDirectory(atPath: checkpoints.path) else { return [] }
        return items.compactMap { name in Self.step(ofFolder: name).map { (name, $0) } }
            .filter { Self.isComplete(checkpoints.appendingPathComponent($0.name)) }
            .sorted { $0.step < $1.step }
    }

    public func modelFile(_ folder: URL) -> URL { folder.appendingPathComponent("model.safetensors") }

    /// Writes model and trainer state as one checkpoint and points `latest` at it.
    /// `snapshot` (default: the trainer's) is the whole global batch's under data parallelism.
    @discardableResult
    public func save(trainer: ACTTrainer, snapshot given: TrainerSnapshot? = nil, metadata: [String: String] = [:]) throws -> URL {
        let model = trainer.model
        let fm = FileManager.default
        try fm.createDirectory(at: checkpoints, withIntermediateDirectories: true)
        let snapshot = given ?? trainer.snapshot()
        let name = Self.folderName(step: snapshot.step)
        let temporary = checkpoints.appendingPathComponent(".\(name).tmp-\(getpid())")
        try? fm.removeItem(at: temporary)
        try fm.createDirectory(at: temporary, withIntermediateDirectories: true)
        do {
            var meta = metadata
            meta["step"] = String(snapshot.step)
            // With a weight EMA the model file holds its weights (what evaluation and export use).
            try trainer.withAveragedWeights { try model.save(to: temporary.appendingPathComponent("model.safetensors"), metadata: meta) }
            try Self.stateFile(snapshot).write(to: temporary.appendingPathComponent("state.safetensors"))
            let final = checkpoints.appendingPathComponent(name)
            if fm.fileExists(atPath: final.path) {
                // The same step saved again (a resumed run that retrained it): the old folder is moved
                // aside, not deleted, until the new one is in place; between the two renames `latest()`
                // falls back to the previous complete checkpoint.
                let aside = checkpoints.appendingPathComponent(".\(name).replaced-\(getpid())")
                try? fm.removeItem(at: aside)
                try fm.moveItem(at: final, to: aside)
                do { try fm.moveItem(at: temporary, to: final) } catch {
                    try? fm.moveItem(at: aside, to: final)
                    throw error
                }
                try? fm.removeItem(at: aside)
            } else {
                try fm.moveItem(at: temporary, to: final)
            }
        } catch {
            try? fm.removeItem(at: temporary)
            throw error
        }
        try AtomicFile.write(name + "\n", to: latestFile)
        prune(keeping: name)
        return checkpoints.appendingPathComponent(name)
    }

    /// Deletes all but the newest `keep` checkpoint folders (and stale temporary folders).
    func prune(keeping current: String) {
        let fm = FileManager.default
        guard let items = try? fm.contentsOfDirectory(atPath: checkpoints.path) else { return }
        let steps = items.compactMap { name in Self.step(ofFolder: name).map { (name, $0) } }.sorted { $0.1 < $1.1 }.map(\.0)
        for old in steps.dropLast(keep) where old != current { try? fm.removeItem(at: checkpoints.appendingPathComponent(old)) }
        for tmp in items where tmp.hasPrefix(".step-") { try? fm.removeItem(at: checkpoints.appendingPathComponent(tmp)) }
    }

    /// Tensor and metadata names of bucket `k`'s state: the v1 names when the run has one bucket
    /// (a dataset without canvas buckets), `bucket<k>.`-prefixed names in the v2 format otherwise.
    static func bucketPrefix(_ k: Int, of count: Int) -> String { count == 1 ? "" : "bucket\(k)." }

    static func stateFile(_ s: TrainerSnapshot) -> SafeTensorsFile {
        var t: [String: SafeTensor] = [:]
        func f(_ name: String, _ v: [Float]) { t[name] = SafeTensor(name: name, shape: [v.count], floats: v) }
        func i(_ name: String, _ v: [Int32]) { t[name] = SafeTensor(name: name, shape: [v.count], int32: v) }
        f("adam.first_moment", s.firstMoment)
        f("adam.second_moment", s.secondMoment)
        if let weights = s.trainingWeights { f("ema.training_weights", weights) }
        var meta: [String: String] = [
            "format": s.buckets.count == 1 ? "arc-pipeline-train-state-v1" : "arc-pipeline-train-state-v2",
            "step": String(s.step), "adam_step": String(s.adamStep), "act_rng": String(s.rngState),
        ]
        if s.buckets.count != 1 { meta["buckets"] = String(s.buckets.count) }
        for (k, b) in s.buckets.enumerated() {
            let p = bucketPrefix(k, of: s.buckets.count)
            f(p + "act.carry", b.carry)
            i(p + "act.slot_steps", b.slotSteps)
            i(p + "act.halted", b.halted.map { $0 ? 1 : 0 })
            i(p + "act.current_inputs", b.currentInputs)
            i(p + "act.current_labels", b.currentLabels)
            i(p + "act.current_identifiers", b.currentIdentifiers)
            i(p + "sampler.group_order", b.sampler.groupOrder.isEmpty ? [-1] : b.sampler.groupOrder)
            meta[p + "sampler_epoch"] = String(b.sampler.epoch)
            meta[p + "sampler_position"] = String(b.sampler.position)
            meta[p + "sampler_rng"] = String(b.sampler.rngState)
            meta[p + "sampler_empty_order"] = b.sampler.groupOrder.isEmpty ? "1" : "0"
            if s.buckets.count != 1 { meta[p + "draws"] = String(b.draws) }
        }
        return SafeTensorsFile(tensors: t, metadata: meta)
    }

    /// The largest step, optimizer step, epoch or draw count a state may hold: 2^40, far beyond any run
    /// (a million steps a second for twelve days), and far enough below Int.max that the trainer's own
    /// counting from it cannot overflow.
    public static let counterLimit = 1 << 40

    public static func readState(_ url: URL) throws -> TrainerSnapshot {
        try readState(try SafeTensorsFile.read(url), source: url.path)
    }

    /// The state in a parsed file (`source` names it in errors).
    public static func readState(_ file: SafeTensorsFile, source: String) throws -> TrainerSnapshot {
        let url = URL(fileURLWithPath: source)
        func floats(_ n: String) throws -> [Float] {
            guard let v = file[n]?.floats else { throw CheckpointError.invalid("\(url.path): tensor \(n) missing") }
            return v
        }
        func ints(_ n: String) throws -> [Int32] {
            guard let v = file[n]?.integers else { throw CheckpointError.invalid("\(url.path): tensor \(n) missing") }
            return try v.enumerated().map { k, value in
                guard let narrow = Int32(exactly: value) else {
                    throw CheckpointError.invalid("\(url.path): tensor \(n) holds \(value) at index \(k), outside the 32-bit range")
                }
                return narrow
            }
        }
        func meta<T: LosslessStringConvertible>(_ k: String) throws -> T {
            guard let s = file.metadata[k], let v = T(s) else { throw CheckpointError.invalid("\(url.path): metadata \(k) missing or malformed") }
            return v
        }
        func count(_ k: String) throws -> Int {
            let v: Int = try meta(k)
            guard (0...counterLimit).contains(v) else {
                throw CheckpointError.invalid("\(url.path): metadata \(k) is \(v), expected 0...\(counterLimit)")
            }
            return v
        }
        let bucketCount: Int
        switch file.metadata["format"] {
        case "arc-pipeline-train-state-v1": bucketCount = 1
        case "arc-pipeline-train-state-v2":
            bucketCount = try count("buckets")
            guard (2...64).contains(bucketCount) else {
                throw CheckpointError.invalid("\(url.path): metadata buckets is \(bucketCount), expected 2...64")
            }
        default:
            throw CheckpointError.invalid("\(url.path): not a training state file (format \(file.metadata["format"] ?? "none"))")
        }
        let buckets: [BucketSnapshot] = try (0..<bucketCount).map { k in
            let p = bucketPrefix(k, of: bucketCount)
            let emptyOrder: String = try meta(p + "sampler_empty_order")
            let sampler = GroupSampler.State(epoch: try count(p + "sampler_epoch"), position: try count(p + "sampler_position"),
                                             groupOrder: emptyOrder == "1" ? [] : try ints(p + "sampler.group_order"),
                                             rngState: try meta(p + "sampler_rng"))
            return BucketSnapshot(sampler: sampler, draws: bucketCount == 1 ? 0 : try count(p + "draws"),
                                  slotSteps: try ints(p + "act.slot_steps"), halted: try ints(p + "act.halted").map { $0 != 0 },
                                  currentInputs: try ints(p + "act.current_inputs"), currentLabels: try ints(p + "act.current_labels"),
                                  currentIdentifiers: try ints(p + "act.current_identifiers"), carry: try floats(p + "act.carry"))
        }
        return TrainerSnapshot(step: try count("step"), adamStep: try count("adam_step"), firstMoment: try floats("adam.first_moment"),
                               secondMoment: try floats("adam.second_moment"), rngState: try meta("act_rng"), buckets: buckets,
                               trainingWeights: file["ema.training_weights"] == nil ? nil : try floats("ema.training_weights"))
    }
}

extension CheckpointStore {
    /// Checks that a saved state fits `trainer` (its batch size, model, dataset and vocabulary) before
    /// it is restored: every count, index and token in range, every value finite.
    public static func check(_ s: TrainerSnapshot, against trainer: ACTTrainer, source: String) throws {
        func fail(_ message: String) -> CheckpointError { .invalid("\(source): \(message)") }
        // The global batch: a data-parallel rank holds trainer.batch of its share.global slots.
        let batch = trainer.share.global, vocab = trainer.vocab
        let model = trainer.model
        guard s.buckets.count == trainer.buckets.count else {
            throw fail("saved with \(s.buckets.count) canvas bucket(s), this dataset has \(trainer.buckets.count) (a state from another dataset?)")
        }
        let parameters = model.denseParameterCount
        for (name, values) in [("adam.first_moment", s.firstMoment), ("adam.second_moment", s.secondMoment)] {
            guard values.count == parameters else { throw fail("\(name) has \(values.count) values, the model has \(parameters) parameters") }
            if let k = values.firstIndex(where: { !$0.isFinite }) { throw fail("\(name)[\(k)] is \(values[k]), expected a finite value") }
        }
        if let k = s.secondMoment.firstIndex(where: { $0 < 0 }) { throw fail("adam.second_moment[\(k)] is \(s.secondMoment[k]), expected >= 0") }
        if let weights = s.trainingWeights {
            guard trainer.weightAverage != nil else {
                throw fail("holds ema.training_weights (saved with a weight EMA), this run has none; resume with the run's own --ema")
            }
            guard weights.count == parameters else { throw fail("ema.training_weights has \(weights.count) values, the model has \(parameters) parameters") }
            if let k = weights.firstIndex(where: { !$0.isFinite }) { throw fail("ema.training_weights[\(k)] is \(weights[k]), expected a finite value") }
        } else if trainer.weightAverage != nil && s.adamStep > 0 {
            throw fail("has no ema.training_weights after \(s.adamStep) optimizer steps, this run has a weight EMA; resume with the run's own --ema")
        }
        for (index, (saved, bucket)) in zip(s.buckets, trainer.buckets).enumerated() {
            let p = bucketPrefix(index, of: s.buckets.count)
            let seqLen = bucket.seqLen
            let slots = saved.slotSteps.count
            guard slots == batch else {
                throw fail("saved with batch size \(slots) (\(p)act.slot_steps), this run uses batch size \(batch); resume with the run's own batch size")
            }
            for (name, count) in [("act.halted", saved.halted.count), ("act.current_identifiers", saved.currentIdentifiers.count)] where count != batch {
                throw fail("\(p)\(name) has \(count) entries, expected one per slot (\(batch))")
            }
            for (name, count) in [("act.current_inputs", saved.currentInputs.count), ("act.current_labels", saved.currentLabels.count)]
            where count != batch * seqLen {
                throw fail("\(p)\(name) has \(count) entries, expected batch x seq_len = \(batch) x \(seqLen)")
            }
            if let k = saved.slotSteps.firstIndex(where: { $0 < 0 }) { throw fail("\(p)act.slot_steps[\(k)] is \(saved.slotSteps[k]), expected >= 0") }
            if let k = saved.currentInputs.firstIndex(where: { $0 < 0 || Int($0) >= vocab }) {
                throw fail("\(p)act.current_inputs[\(k)] is \(saved.currentInputs[k]), outside the vocabulary 0..<\(vocab)")
            }
            let ignore = ACTTrainer.ignoreLabel
            if let k = saved.currentLabels.firstIndex(where: { $0 != ignore && ($0 < 0 || Int($0) >= vocab) }) {
                throw fail("\(p)act.current_labels[\(k)] is \(saved.currentLabels[k]), outside the vocabulary 0..<\(vocab) (and not the ignore label \(ignore))")
            }
            if let k = saved.currentIdentifiers.firstIndex(where: { $0 < 0 || Int($0) >= model.puzzleIdentifierCount }) {
                throw fail("\(p)act.current_identifiers[\(k)] is \(saved.currentIdentifiers[k]), outside the model's puzzle identifiers 0..<\(model.puzzleIdentifierCount)")
            }
            let carryCount = (bucket.carry.zH.count + bucket.carry.zL.count) / trainer.batch * batch
            guard saved.carry.count == carryCount else { throw fail("\(p)act.carry has \(saved.carry.count) values, this model and batch need \(carryCount)") }
            if let k = saved.carry.firstIndex(where: { !$0.isFinite }) { throw fail("\(p)act.carry[\(k)] is \(saved.carry[k]), expected a finite value") }
            let groups = bucket.sampler.groupCount
            let order = saved.sampler.groupOrder
            guard order.count % max(groups, 1) == 0, order.count / max(groups, 1) == bucket.sampler.epochsPerPass else {
                throw fail("\(p)sampler.group_order has \(order.count) entries, the dataset has \(groups) groups "
                           + "(\(bucket.sampler.epochsPerPass) epoch(s) per pass; a state from another dataset?)")
            }
            var seen = [Int](repeating: 0, count: groups)
            for (k, group) in order.enumerated() {
                guard group >= 0, Int(group) < groups else { throw fail("\(p)sampler.group_order[\(k)] is \(group), outside the dataset's groups 0..<\(groups)") }
                seen[Int(group)] += 1
                guard seen[Int(group)] <= bucket.sampler.epochsPerPass else { throw fail("\(p)sampler.group_order names group \(group) twice in one epoch") }
            }
            guard saved.sampler.position <= order.count else {
                throw fail("metadata \(p)sampler_position is \(saved.sampler.position), expected 0...\(order.count)")
            }
        }
    }
}
