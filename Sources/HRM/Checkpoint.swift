// Checkpoint: the model's parameters <-> a safetensors file with the reference's state_dict names
// (HRM-SPEC §4) and the run config (JSON of HRMConfig) under `__metadata__["config"]`.
import Foundation
import Kernels

extension HRMModel {
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

    /// Loads every arena tensor and the puzzle table by reference name from a file (shapes must match).
    /// Missing puzzle table is an error unless allowMissingPuzzleTable (it then stays as is).
    public func load(from file: SafeTensorsFile, source: String, allowMissingPuzzleTable: Bool = false) throws {
        for entry in parameters.layout.entries {
            guard let tensor = file[entry.name] else { throw HRMError.checkpoint("\(source): missing tensor \(entry.name)") }
            guard tensor.shape == entry.shape else {
                throw HRMError.checkpoint("\(source): tensor \(entry.name) has shape \(tensor.shape), model expects \(entry.shape)")
            }
            guard let floats = tensor.floats else { throw HRMError.checkpoint("\(source): tensor \(entry.name) is \(tensor.dtype), expected floating") }
            let destination = parameters.values.pointer + entry.offset
            for index in 0..<entry.count { destination[index] = T(floats[index]) }
        }
        if config.puzzleEmbeddingDim > 0 {
            let name = ParameterLayout.puzzleEmbeddingName
            if let tensor = file[name] {
                let expected = [config.numPuzzleIdentifiers + 1, config.puzzleEmbeddingDim]
                guard tensor.shape == expected else { throw HRMError.checkpoint("\(source): tensor \(name) has shape \(tensor.shape), model expects \(expected)") }
                guard let floats = tensor.floats else { throw HRMError.checkpoint("\(source): tensor \(name) is \(tensor.dtype), expected floating") }
                for index in 0..<floats.count { parameters.puzzleEmbedding[index] = T(floats[index]) }
            } else if !allowMissingPuzzleTable {
                throw HRMError.checkpoint("\(source): missing tensor \(name)")
            }
        }
    }

    public func load(from url: URL) throws {
        try load(from: try SafeTensorsFile.read(url), source: url.path)
    }

    /// The config stored in a checkpoint's metadata, if any.
    public static func storedConfig(in file: SafeTensorsFile, source: String) throws -> HRMConfig? {
        guard let text = file.metadata["config"] else { return nil }
        do { return try JSONDecoder().decode(HRMConfig.self, from: Data(text.utf8)) } catch {
            throw HRMError.checkpoint("\(source): __metadata__.config is not an HRM config (\(error))")
        }
    }
}
