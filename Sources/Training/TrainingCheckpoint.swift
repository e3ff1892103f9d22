// Crash-safe training checkpoints (issue: train). Each checkpoint is a folder
// `checkpoints/step-NNNNNNNN/` holding `model.safetensors` (the reference's state_dict names,
// the model config in the metadata) and `state.safetensors` (AdamATan2 moments, the sampler,
// the exploration RNG, the ACT carry and the slots' data: everything exact resume needs).
// The folder is written under a temporary name and renamed; then the file `latest` (written
// atomically) names it. A crash at any point leaves `latest` naming a complete checkpoint.
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
            return v.map { Int32(truncatingIfNeeded: $0) }
        }
        func meta<T: LosslessStringConvertible>(_ k: String) throws -> T {
            guard let s = file.metadata[k], let v = T(s) else { throw CheckpointError.invalid("\(url.path): metadata \(k) missing or malformed") }
            return v
        }
        guard file.metadata["format"] == "arc-pipeline-train-state-v1" else {
            throw CheckpointError.invalid("\(url.path): not a training state file (format \(file.metadata["format"] ?? "none"))")
        }
        let emptyOrder: String = try meta("sampler_empty_order")
        let sampler = GroupSampler.State(epoch: try meta("sampler_epoch"), position: try meta("sampler_position"),
                                         groupOrder: emptyOrder == "1" ? [] : try ints("sampler.group_order"), rngState: try meta("sampler_rng"))
        return TrainerSnapshot(step: try meta("step"), adamStep: try meta("adam_step"), firstMoment: try floats("adam.first_moment"),
                               secondMoment: try floats("adam.second_moment"), sampler: sampler, rngState: try meta("act_rng"),
                               slotSteps: try ints("act.slot_steps"), halted: try ints("act.halted").map { $0 != 0 },
                               currentInputs: try ints("act.current_inputs"), currentLabels: try ints("act.current_labels"),
                               currentIdentifiers: try ints("act.current_identifiers"), carry: try floats("act.carry"))
    }
}
