// Crash-safe training checkpoints. Each checkpoint is a folder
// `checkpoints/step-NNNNNNNN/` holding `model.safetensors` (the reference's state_dict names,
// the model config in the metadata) and `state.safetensors` (AdamATan2 moments, the sampler,
// the exploration RNG, the ACT carry and the slots' data: everything exact resume needs).
// The folder is written under a temporary name and renamed; then the file `latest` (written
// atomically) names it. A crash at any point leaves `latest` naming a complete checkpoint.
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

    /// The folder `latest` names, when there is one.
    public func latest() -> URL? {
        guard let name = try? String(contentsOf: latestFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines), !name.isEmpty,
              !name.contains("/") else { return nil }
        let folder = checkpoints.appendingPathComponent(name)
        return FileManager.default.fileExists(atPath: folder.appendingPathComponent("state.safetensors").path) ? folder : nil
    }

    public func modelFile(_ folder: URL) -> URL { folder.appendingPathComponent("model.safetensors") }

    /// Writes model and trainer state as one checkpoint and points `latest` at it.
    @discardableResult
    public func save(trainer: ACTTrainer<HRMModel<Float>>, metadata: [String: String] = [:]) throws -> URL {
        let model = trainer.model
        let fm = FileManager.default
        try fm.createDirectory(at: checkpoints, withIntermediateDirectories: true)
        let snapshot = trainer.snapshot()
        let name = Self.folderName(step: snapshot.step)
        let temporary = checkpoints.appendingPathComponent(".\(name).tmp-\(getpid())")
        try? fm.removeItem(at: temporary)
        try fm.createDirectory(at: temporary, withIntermediateDirectories: true)
        do {
            var meta = metadata
            meta["step"] = String(snapshot.step)
            try model.save(to: temporary.appendingPathComponent("model.safetensors"), metadata: meta)
            try Self.stateFile(snapshot).write(to: temporary.appendingPathComponent("state.safetensors"))
            let final = checkpoints.appendingPathComponent(name)
            try? fm.removeItem(at: final)
            try fm.moveItem(at: temporary, to: final)
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
        let steps = items.filter { $0.hasPrefix("step-") }.sorted()
        for old in steps.dropLast(keep) where old != current { try? fm.removeItem(at: checkpoints.appendingPathComponent(old)) }
        for tmp in items where tmp.hasPrefix(".step-") { try? fm.removeItem(at: checkpoints.appendingPathComponent(tmp)) }
    }

    static func stateFile(_ s: TrainerSnapshot) -> SafeTensorsFile {
        var t: [String: SafeTensor] = [:]
        func f(_ name: String, _ v: [Float]) { t[name] = SafeTensor(name: name, shape: [v.count], floats: v) }
        func i(_ name: String, _ v: [Int32]) { t[name] = SafeTensor(name: name, shape: [v.count], int32: v) }
        f("adam.first_moment", s.firstMoment)
        f("adam.second_moment", s.secondMoment)
        f("act.carry", s.carry)
        i("act.slot_steps", s.slotSteps)
        i("act.halted", s.halted.map { $0 ? 1 : 0 })
        i("act.current_inputs", s.currentInputs)
        i("act.current_labels", s.currentLabels)
        i("act.current_identifiers", s.currentIdentifiers)
        i("sampler.group_order", s.sampler.groupOrder.isEmpty ? [-1] : s.sampler.groupOrder)
        let meta: [String: String] = [
            "format": "arc-pipeline-train-state-v1",
            "step": String(s.step), "adam_step": String(s.adamStep),
            "sampler_epoch": String(s.sampler.epoch), "sampler_position": String(s.sampler.position),
            "sampler_rng": String(s.sampler.rngState), "act_rng": String(s.rngState),
            "sampler_empty_order": s.sampler.groupOrder.isEmpty ? "1" : "0",
        ]
        return SafeTensorsFile(tensors: t, metadata: meta)
    }

    public static func readState(_ url: URL) throws -> TrainerSnapshot {
        let file = try SafeTensorsFile.read(url)
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
            guard v >= 0 else { throw CheckpointError.invalid("\(url.path): metadata \(k) is \(v), expected >= 0") }
            return v
        }
        guard file.metadata["format"] == "arc-pipeline-train-state-v1" else {
            throw CheckpointError.invalid("\(url.path): not a training state file (format \(file.metadata["format"] ?? "none"))")
        }
        let emptyOrder: String = try meta("sampler_empty_order")
        let sampler = GroupSampler.State(epoch: try count("sampler_epoch"), position: try count("sampler_position"),
                                         groupOrder: emptyOrder == "1" ? [] : try ints("sampler.group_order"), rngState: try meta("sampler_rng"))
        return TrainerSnapshot(step: try count("step"), adamStep: try count("adam_step"), firstMoment: try floats("adam.first_moment"),
                               secondMoment: try floats("adam.second_moment"), sampler: sampler, rngState: try meta("act_rng"),
                               slotSteps: try ints("act.slot_steps"), halted: try ints("act.halted").map { $0 != 0 },
                               currentInputs: try ints("act.current_inputs"), currentLabels: try ints("act.current_labels"),
                               currentIdentifiers: try ints("act.current_identifiers"), carry: try floats("act.carry"))
    }
}

extension CheckpointStore {
    /// Checks that a saved state fits `trainer` (its batch size, model, dataset and vocabulary) before
    /// it is restored: every count, index and token in range, every value finite.
    public static func check(_ s: TrainerSnapshot, against trainer: ACTTrainer<HRMModel<Float>>, source: String) throws {
        func fail(_ message: String) -> CheckpointError { .invalid("\(source): \(message)") }
        let batch = trainer.batch, seqLen = trainer.seqLen, vocab = trainer.vocab
        let model = trainer.model
        let slots = s.slotSteps.count
        guard slots == batch else {
            throw fail("saved with batch size \(slots) (act.slot_steps), this run uses batch size \(batch); resume with the run's own batch size")
        }
        for (name, count) in [("act.halted", s.halted.count), ("act.current_identifiers", s.currentIdentifiers.count)] where count != batch {
            throw fail("\(name) has \(count) entries, expected one per slot (\(batch))")
        }
        for (name, count) in [("act.current_inputs", s.currentInputs.count), ("act.current_labels", s.currentLabels.count)] where count != batch * seqLen {
            throw fail("\(name) has \(count) entries, expected batch x seq_len = \(batch) x \(seqLen)")
        }
        if let k = s.slotSteps.firstIndex(where: { $0 < 0 }) { throw fail("act.slot_steps[\(k)] is \(s.slotSteps[k]), expected >= 0") }
        if let k = s.currentInputs.firstIndex(where: { $0 < 0 || Int($0) >= vocab }) {
            throw fail("act.current_inputs[\(k)] is \(s.currentInputs[k]), outside the vocabulary 0..<\(vocab)")
        }
        let ignore = ACTTrainer<HRMModel<Float>>.ignoreLabel
        if let k = s.currentLabels.firstIndex(where: { $0 != ignore && ($0 < 0 || Int($0) >= vocab) }) {
            throw fail("act.current_labels[\(k)] is \(s.currentLabels[k]), outside the vocabulary 0..<\(vocab) (and not the ignore label \(ignore))")
        }
        if let k = s.currentIdentifiers.firstIndex(where: { $0 < 0 || Int($0) >= model.puzzleIdentifierCount }) {
            throw fail("act.current_identifiers[\(k)] is \(s.currentIdentifiers[k]), outside the model's puzzle identifiers 0..<\(model.puzzleIdentifierCount)")
        }
        let carryCount = trainer.carry.zH.count + trainer.carry.zL.count
        guard s.carry.count == carryCount else { throw fail("act.carry has \(s.carry.count) values, this model and batch need \(carryCount)") }
        if let k = s.carry.firstIndex(where: { !$0.isFinite }) { throw fail("act.carry[\(k)] is \(s.carry[k]), expected a finite value") }
        let parameters = model.denseParameterCount
        for (name, values) in [("adam.first_moment", s.firstMoment), ("adam.second_moment", s.secondMoment)] {
            guard values.count == parameters else { throw fail("\(name) has \(values.count) values, the model has \(parameters) parameters") }
            if let k = values.firstIndex(where: { !$0.isFinite }) { throw fail("\(name)[\(k)] is \(values[k]), expected a finite value") }
        }
        if let k = s.secondMoment.firstIndex(where: { $0 < 0 }) { throw fail("adam.second_moment[\(k)] is \(s.secondMoment[k]), expected >= 0") }
        let groups = trainer.sampler.groupCount
        let order = s.sampler.groupOrder
        guard order.count == groups else {
            throw fail("sampler.group_order has \(order.count) entries, the dataset has \(groups) groups (a state from another dataset?)")
        }
        var seen = [Bool](repeating: false, count: groups)
        for (k, group) in order.enumerated() {
            guard group >= 0, Int(group) < groups else { throw fail("sampler.group_order[\(k)] is \(group), outside the dataset's groups 0..<\(groups)") }
            guard !seen[Int(group)] else { throw fail("sampler.group_order names group \(group) twice") }
            seen[Int(group)] = true
        }
        guard s.sampler.position <= groups else { throw fail("metadata sampler_position is \(s.sampler.position), expected 0...\(groups)") }
    }
}
