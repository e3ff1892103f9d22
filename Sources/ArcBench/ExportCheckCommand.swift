// `arc-bench export-check [--arch trm] DIR`: a small Swift model (P = 2 puzzle tokens, TRM 4; random q_head and puzzle
// table) and its outputs after one inner step from the reset carry, written as
// DIR/swift_model.safetensors and DIR/swift_outputs.safetensors for the PyTorch reference to check:
// python3 Tools/bench/check_swift_checkpoint.py DIR
import ArgumentParser
import Foundation
import HRM
import Kernels

struct ExportCheckCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export-check",
        abstract: "Write swift_model.safetensors + swift_outputs.safetensors into DIR for Tools/bench/check_swift_checkpoint.py.")

    @Argument(help: "Folder for the two files (created when missing).")
    var directory: String

    @OptionGroup var options: CommonOptions
    @Option(help: "hrm (checked by Tools/bench/check_swift_checkpoint.py against the project's reference) or trm (TRM names; Tools/bench/check_trm_checkpoint.py loads it into the official TRM model).")
    var arch: ModelArchitecture = .hrm

    func run() throws {
        options.start()
        // A small model with P = 2 (puzzle_emb_ndim 48 > D 32), random q_head and puzzle table.
        // TRM: 4 puzzle tokens (puzzle_emb_len), the first two carrying the row.
        let config = arch == .trm
            ? HRMConfig.trm(hiddenSize: 32, numHeads: 2, expansion: 4, lLayers: 2, hCycles: 2, lCycles: 3, haltMaxSteps: 4,
                            puzzleEmbeddingDim: 48, puzzleEmbeddingLength: 4, numPuzzleIdentifiers: 6, seqLen: 16)
            : HRMConfig(hiddenSize: 32, numHeads: 2, expansion: 4, hLayers: 2, lLayers: 1, hCycles: 2, lCycles: 3,
                        haltMaxSteps: 4, puzzleEmbeddingDim: 48, numPuzzleIdentifiers: 6, seqLen: 16)
        let model = ReasoningModel<Float>.make(config: config, maxBatch: 3)
        model.parameters.initialize(seed: options.seed)
        var generator = SplitMix64(seed: options.seed &+ 99)
        let q = model.parameters.layout[ParameterLayout.prefix + "q_head.weight"]
        for i in 0..<q.count { model.parameters.values[q.offset + i] = Float(generator.nextNormal() * 0.3) }
        for i in 0..<model.parameters.puzzleEmbedding.count { model.parameters.puzzleEmbedding[i] = Float(generator.nextNormal() * 0.5) }
        let inputs = (0..<(3 * 16)).map { _ in Int32(generator.next() % 12) }
        let identifiers: [Int32] = [6, 2, 6]
        let carry = HRMCarry<Float>(config: config, batch: 3)
        carry.resetAll(model: model)
        model.innerStep(carry: carry, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: false)
        let folder = URL(fileURLWithPath: directory)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw ExportCheckFailure(description: "export-check: cannot create the folder \(folder.path) (\(error.localizedDescription))")
        }
        try model.save(to: folder.appendingPathComponent("swift_model.safetensors"))
        let outputs = SafeTensorsFile(tensors: [
            "batch.inputs": SafeTensor(name: "batch.inputs", shape: [3, 16], int32: inputs),
            "batch.puzzle_identifiers": SafeTensor(name: "batch.puzzle_identifiers", shape: [3], int32: identifiers),
            "out.logits": SafeTensor(name: "out.logits", shape: [3, 16, 12], floats: Array(model.logits.array.prefix(3 * 16 * 12))),
            "out.q_logits": SafeTensor(name: "out.q_logits", shape: [3, 2], floats: Array(model.qLogits.array.prefix(6))),
            "out.z_H": SafeTensor(name: "out.z_H", shape: [3, config.totalLength, 32], floats: carry.zH.array),
        ], metadata: ["note": "one inner step from the reset carry with swift_model.safetensors"])
        try outputs.write(to: folder.appendingPathComponent("swift_outputs.safetensors"))
        print("wrote \(folder.path)/swift_model.safetensors and swift_outputs.safetensors")
    }
}

/// A failure of export-check after its command line was accepted (exit code 1, one `Error:` line).
struct ExportCheckFailure: Error, CustomStringConvertible {
    let description: String
}
