// Checkpoint: the model's parameters <-> a safetensors file with the reference's state_dict names
// (docs/SPEC.md §4) and the run config (JSON of HRMConfig) under `__metadata__["config"]`.
import ARCCore
import Foundation
import Kernels

extension ReasoningModel {
    /// All tensors by reference name (arena entries + puzzle table) as F32.
    public func stateTensors() -> [String: SafeTensor] {
        var tensors: [String: SafeTensor] = [:]
        for entry in parameters.layout.entries {
            let source = parameters.values.pointer + entry.offset
            tensors[entry.name] = SafeTensor(name: entry.name, shape: entry.shape, floats: (0..<entry.count).map { Float(source[$0]) })
        }
        let table = parameters.puzzleEmbedding
        if config.puzzleEmbeddingDim > 0 {
            tensors[ParameterLayout.puzzleEmbeddingName] = SafeTensor(
                name: ParameterLayout.puzzleEmbeddingName, shape: [config.numPuzzleIdentifiers + 1, config.puzzleEmbeddingDim],
                floats: (0..<table.count).map { Float(table[$0]) })
        }
        return tensors
    }

    /// Saves the parameters and config (plus extra metadata) atomically.
    public func save(to url: URL, metadata extra: [String: String] = [:]) throws {
        var metadata = extra
        let configData = try JSONEncoder().encode(config)
        metadata["config"] = String(decoding: configData, as: UTF8.self)
        metadata["format"] = "arc-pipeline-hrm-v1"
        try SafeTensorsFile(tensors: stateTensors(), metadata: metadata).write(to: url)
    }

    /// The tensors a model of `config` loads from `file`, checked without allocating the model: each
    /// present with the layout's shape, floating, and every value finite (a NaN or infinite weight
    /// would turn every prediction into the fallback). Returns the puzzle table's tensor, if any.
    @discardableResult
    public static func checkTensors(in file: SafeTensorsFile, config: HRMConfig, source: String,
                                    allowMissingPuzzleTable: Bool = false) throws -> SafeTensor? {
        func floats(_ name: String, shape: [Int]) throws -> [Float] {
            guard let tensor = file[name] else { throw HRMError.checkpoint("\(source): missing tensor \(name)") }
            guard tensor.shape == shape else {
                throw HRMError.checkpoint("\(source): tensor \(name) has shape \(tensor.shape), model expects \(shape)")
            }
            guard let values = tensor.floats else { throw HRMError.checkpoint("\(source): tensor \(name) is \(tensor.dtype), expected floating") }
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw HRMError.checkpoint("\(source): tensor \(name) holds \(values[bad]) at index \(bad); every weight must be finite")
            }
            return values
        }
        for entry in ParameterLayout(config: config).entries { _ = try floats(entry.name, shape: entry.shape) }
        guard config.puzzleEmbeddingDim > 0 else { return nil }
        let name = ParameterLayout.puzzleEmbeddingName
        if file[name] == nil && allowMissingPuzzleTable { return nil }
        _ = try floats(name, shape: [config.numPuzzleIdentifiers + 1, config.puzzleEmbeddingDim])
        return file[name]
    }

    /// Loads every arena tensor and the puzzle table by reference name from a file (shapes must match,
    /// values must be finite). Missing puzzle table is an error unless allowMissingPuzzleTable (it then stays as is).
    public func load(from file: SafeTensorsFile, source: String, allowMissingPuzzleTable: Bool = false) throws {
        let table = try Self.checkTensors(in: file, config: config, source: source, allowMissingPuzzleTable: allowMissingPuzzleTable)
        for entry in parameters.layout.entries {
            guard let floats = file[entry.name]?.floats else { continue }
            let destination = parameters.values.pointer + entry.offset
            for index in 0..<entry.count { destination[index] = T(floats[index]) }
        }
        if let floats = table?.floats {
            for index in 0..<floats.count { parameters.puzzleEmbedding[index] = T(floats[index]) }
        }
    }

    public func load(from url: URL) throws {
        try load(from: try SafeTensorsFile.read(url), source: url.path)
    }

    /// The config stored in a checkpoint's metadata (validated), if any.
    public static func storedConfig(in file: SafeTensorsFile, source: String) throws -> HRMConfig? {
        guard let text = file.metadata["config"] else { return nil }
        do { return try JSONDecoder().decode(HRMConfig.self, from: Data(text.utf8)) } catch {
            throw HRMError.checkpoint("\(source): __metadata__.config is not a usable HRM config (\(DecodingProblem.describe(error)))")
        }
    }
}
