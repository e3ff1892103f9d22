// TRM parameters <-> named tensors (the official TRM state_dict names, docs/SPEC.md §9): reading a
// SafeTensorsFile (the golden fixtures, a saved model) with every tensor checked for presence, shape
// and finite values before anything is written, and the model's tensors as F32 for saving.
// (Reading the official checkpoints, which hold bf16 and `_orig_mod.` keys, is not handled here.)
import Kernels

extension TRMModel {
    /// All tensors by name (arena entries + puzzle table) as F32.
    public func stateTensors() -> [String: SafeTensor] {
        var tensors: [String: SafeTensor] = [:]
        for entry in parameters.layout.entries {
            let source = parameters.values.pointer + entry.offset
            tensors[entry.name] = SafeTensor(name: entry.name, shape: entry.shape, floats: (0..<entry.count).map { Float(source[$0]) })
        }
        if config.puzzleEmbeddingDim > 0 {
            let table = parameters.puzzleEmbedding
            tensors[ParameterLayout.puzzleEmbeddingName] = SafeTensor(
                name: ParameterLayout.puzzleEmbeddingName, shape: [config.numPuzzleIdentifiers + 1, config.puzzleEmbeddingDim],
                floats: (0..<table.count).map { Float(table[$0]) })
        }
        return tensors
    }

    /// Loads every arena tensor and the puzzle table (when puzzleEmbeddingDim > 0) by name. Throws,
    /// naming `source` and the tensor, when one is missing, has another shape, is not floating, or holds
    /// a value that is not finite; nothing is written unless every tensor passes.
    public func load(from file: SafeTensorsFile, source: String) throws {
        func checked(_ name: String, shape: [Int]) throws -> [Float] {
            guard let tensor = file[name] else { throw HRMError.checkpoint("\(source): missing tensor \(name)") }
            guard tensor.shape == shape else {
                throw HRMError.checkpoint("\(source): tensor \(name) has shape \(tensor.shape), the TRM model expects \(shape)")
            }
            guard let values = tensor.floats else { throw HRMError.checkpoint("\(source): tensor \(name) is \(tensor.dtype), expected floating") }
            if let bad = values.firstIndex(where: { !$0.isFinite }) {
                throw HRMError.checkpoint("\(source): tensor \(name) holds \(values[bad]) at index \(bad); every weight must be finite")
            }
            return values
        }
        var loaded: [(ParameterEntry, [Float])] = []
        for entry in parameters.layout.entries { loaded.append((entry, try checked(entry.name, shape: entry.shape))) }
        var table: [Float] = []
        if config.puzzleEmbeddingDim > 0 {
            table = try checked(ParameterLayout.puzzleEmbeddingName, shape: [config.numPuzzleIdentifiers + 1, config.puzzleEmbeddingDim])
        }
        for (entry, values) in loaded {
            let destination = parameters.values.pointer + entry.offset
            for index in 0..<entry.count { destination[index] = T(values[index]) }
        }
        for index in 0..<table.count { parameters.puzzleEmbedding[index] = T(table[index]) }
    }
}
