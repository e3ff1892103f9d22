// `arc-bench export-check [--arch trm] DIR`: a small Swift model (P = 2 puzzle tokens, TRM 4; random q_head and puzzle
// table) and its outputs after one inner step from the reset carry, written as
// DIR/swift_model.safetensors and DIR/swift_outputs.safetensors for the PyTorch reference to check:
// python3 Tools/bench/check_swift_checkpoint.py DIR (HRM) or Tools/bench/check_trm_checkpoint.py DIR (TRM,
// against the official code). With --model CHECKPOINT --dataset BUILT, a trained model (its stored
// config, either architecture) on the first --count test examples of a built dataset instead.
import ARCAugment
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

    @Option(help: "A trained model.safetensors (e.g. RUN/checkpoints/step-N/model.safetensors) to export instead of the small random model; needs --dataset.")
    var model: String?
    @Option(help: "With --model: the built dataset (canvas 30) whose first test examples are the batch.")
    var dataset: String?
    @Option(help: "With --model: examples in the batch (1...16).", transform: integerOption(1...16))
    var count: Int = 3

    func validate() throws {
        try checkRange("--count", count, 1...16)
        if (model == nil) != (dataset == nil) { throw ValidationError("--model and --dataset go together (a trained model on a built dataset's examples)") }
    }

    func run() throws {
        options.start()
        if let model, let dataset { return try exportTrained(modelFile: model, datasetFolder: dataset) }
        // A small model with P = 2 (puzzle_emb_ndim 48 > D 32), random q_head and puzzle table.
        // TRM: 4 puzzle tokens (puzzle_emb_len), the first two carrying the row.
        let config = arch == .trm
            ? HRMConfig.trm(hiddenSize: 32, numHeads: 2, expansion: 4, lLayers: 2, hCycles: 2, lCycles: 3, haltMaxSteps: 4,
                            puzzleEmbeddingDim: 48, puzzleEmbeddingLength: 4, numPuzzleIdentifiers: 6, seqLen: 16)
            : HRMConfig(hiddenSize: 32, numHeads: 2, expansion: 4, hLayers: 2, lLayers: 1, hCycles: 2, lCycles: 3,
                        haltMaxSteps: 4, puzzleEmbeddingDim: 48, numPuzzleIdentifiers: 6, seqLen: 16)
        let model = ReasoningModel<Float>.make(config: config, maxBatch: 3)
        model.parameters.initialize(seed: options.seed)
        var generator = Kernels.SplitMix64(seed: options.seed &+ 99)
        let q = model.parameters.layout[ParameterLayout.prefix + "q_head.weight"]
        for i in 0..<q.count { model.parameters.values[q.offset + i] = Float(generator.nextNormal() * 0.3) }
        for i in 0..<model.parameters.puzzleEmbedding.count { model.parameters.puzzleEmbedding[i] = Float(generator.nextNormal() * 0.5) }
        let inputs = (0..<(3 * 16)).map { _ in Int32(generator.next() % 12) }
        let identifiers: [Int32] = [6, 2, 6]
        try stepAndWrite(model: model, inputs: inputs, identifiers: identifiers)
    }

    /// One inner step from the reset carry on the batch, then DIR/swift_model.safetensors and swift_outputs.safetensors.
    func stepAndWrite(model: ReasoningModel<Float>, inputs: [Int32], identifiers: [Int32]) throws {
        let carry = ReasoningCarry<Float>(config: model.config, batch: identifiers.count)
        carry.resetAll(model: model)
        model.innerStep(carry: carry, inputs: inputs, puzzleIdentifiers: identifiers, withGradient: false)
        let folder = URL(fileURLWithPath: directory)
        do {
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        } catch {
            throw ExportCheckFailure(description: "export-check: cannot create the folder \(folder.path) (\(error.localizedDescription))")
        }
        try model.save(to: folder.appendingPathComponent("swift_model.safetensors"))
        try writeOutputs(model: model, carry: carry, inputs: inputs, identifiers: identifiers, folder: folder)
    }

    /// The outputs file: the batch, and the logits, q logits and z_H of one inner step from the reset carry.
    func writeOutputs(model: ReasoningModel<Float>, carry: ReasoningCarry<Float>, inputs: [Int32], identifiers: [Int32], folder: URL) throws {
        let config = model.config, batch = identifiers.count, seq = config.seqLen, vocab = config.vocabSize
        let outputs = SafeTensorsFile(tensors: [
            "batch.inputs": SafeTensor(name: "batch.inputs", shape: [batch, seq], int32: inputs),
            "batch.puzzle_identifiers": SafeTensor(name: "batch.puzzle_identifiers", shape: [batch], int32: identifiers),
            "out.logits": SafeTensor(name: "out.logits", shape: [batch, seq, vocab], floats: Array(model.logits.array.prefix(batch * seq * vocab))),
            "out.q_logits": SafeTensor(name: "out.q_logits", shape: [batch, 2], floats: Array(model.qLogits.array.prefix(2 * batch))),
            "out.z_H": SafeTensor(name: "out.z_H", shape: [batch, config.totalLength, config.hiddenSize], floats: Array(carry.zH.array.prefix(batch * config.totalLength * config.hiddenSize))),
        ], metadata: ["note": "one inner step from the reset carry with swift_model.safetensors"])
        try outputs.write(to: folder.appendingPathComponent("swift_outputs.safetensors"))
        print("wrote \(folder.path)/swift_model.safetensors and swift_outputs.safetensors")
    }

    /// A trained checkpoint (copied as swift_model.safetensors) on the first `count` test examples of a
    /// canvas-30 built dataset.
    func exportTrained(modelFile: String, datasetFolder: String) throws {
        let source = URL(fileURLWithPath: modelFile)
        let tensors = try SafeTensorsFile.read(source)
        guard let config = try ReasoningModel<Float>.storedConfig(in: tensors, source: source.path) else {
            throw ExportCheckFailure(description: "export-check: \(source.path) holds no model config (__metadata__.config)")
        }
        let split = try BuiltDataset(directory: URL(fileURLWithPath: datasetFolder)).split("test")
        guard let subset = split.orderedSubsets.first, split.orderedSubsets.count == 1, subset.side == nil else {
            throw ExportCheckFailure(description: "export-check: \(datasetFolder) is size-bucketed; give a canvas-30 dataset (build-dataset --canvas 30)")
        }
        guard subset.tokensPerExample == config.seqLen, subset.exampleCount >= count else {
            throw ExportCheckFailure(description: "export-check: \(datasetFolder) has \(subset.exampleCount) test examples of \(subset.tokensPerExample) tokens; the model takes \(config.seqLen), --count \(count)")
        }
        let model = ReasoningModel<Float>.make(config: config, maxBatch: count)
        try model.load(from: tensors, source: source.path)
        var inputs: [Int32] = [], identifiers: [Int32] = []
        for example in 0..<count {
            inputs += subset.input(example).map { Int32($0) }
            identifiers.append(Int32(subset.identifier(ofPuzzle: subset.puzzle(ofExample: example))))
        }
        try stepAndWrite(model: model, inputs: inputs, identifiers: identifiers)
    }
}

/// A failure of export-check after its command line was accepted (exit code 1, one `Error:` line).
struct ExportCheckFailure: Error, CustomStringConvertible {
    let description: String
}
