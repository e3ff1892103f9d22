// ParameterArena: every model tensor in one contiguous buffer, addressed by the reference's
// state_dict names and shapes (docs/SPEC.md §4), plus the init of the spec (JAX truncated normal:
// Linear std 1/sqrt(fan_in), token embedding 1/sqrt(D), q_head weight 0 / bias -5, H_init/L_init
// std 1). Trainable tensors come first, then the buffers (H_init, L_init), so a gradient arena of
// `trainableCount` elements shares the offsets. The puzzle-embedding table ([N+1, ndim], zeros at
// init, trained by sparse sign-SGD) is kept outside the arena: it can be far larger than the model.
import Kernels

public struct ParameterEntry: Sendable, Equatable {
    public let name: String
    public let shape: [Int]
    public let offset: Int
    public let count: Int
    public let trainable: Bool
    /// Init std of the truncated normal (0 = zeros), or a constant when `constant` is set.
    public let initStd: Double
    public let constant: Double?
}

public struct ParameterLayout: Sendable {
    public let entries: [ParameterEntry]
    public let trainableCount: Int
    public let totalCount: Int
    private let indexByName: [String: Int]

    public static let prefix = "model.inner."
    public static let puzzleEmbeddingName = "model.inner.puzzle_emb.weights"

    public init(config: HRMConfig) {
        let d = config.hiddenSize, inter = config.intermediateSize, v = config.vocabSize
        var specs: [(String, [Int], Bool, Double, Double?)] = [
            ("embed_tokens.embedding_weight", [v, d], true, 1 / Double(d).squareRoot(), nil),
            ("lm_head.weight", [v, d], true, 1 / Double(d).squareRoot(), nil),
            ("q_head.weight", [2, d], true, 0, nil),
            ("q_head.bias", [2], true, 0, -5),
        ]
        for (level, count) in [("H_level", config.hLayers), ("L_level", config.lLayers)] {
            for layer in 0..<count {
                let base = "\(level).layers.\(layer)."
                specs.append((base + "self_attn.qkv_proj.weight", [3 * d, d], true, 1 / Double(d).squareRoot(), nil))
                specs.append((base + "self_attn.o_proj.weight", [d, d], true, 1 / Double(d).squareRoot(), nil))
                specs.append((base + "mlp.gate_up_proj.weight", [2 * inter, d], true, 1 / Double(d).squareRoot(), nil))
                specs.append((base + "mlp.down_proj.weight", [d, inter], true, 1 / Double(inter).squareRoot(), nil))
            }
        }
        specs.append(("H_init", [d], false, 1, nil))
        specs.append(("L_init", [d], false, 1, nil))
        self.init(specs: specs)
    }

    /// A layout of (name under `prefix`, shape, trainable, init std, constant) in order; trainable
    /// tensors must come first (the gradient arena is the trainable prefix). Also TRM's (TRM/).
    init(specs: [(String, [Int], Bool, Double, Double?)]) {
        var entries: [ParameterEntry] = []
        var offset = 0
        var trainable = 0
        for (name, shape, isTrainable, std, constant) in specs {
            var count = 1
            for extent in shape { count *= extent }
            entries.append(ParameterEntry(name: Self.prefix + name, shape: shape, offset: offset, count: count, trainable: isTrainable, initStd: std, constant: constant))
            // keep every tensor 16-float aligned (64 bytes)
            offset += (count + 15) / 16 * 16
            if isTrainable { trainable = offset }
        }
        self.entries = entries
        self.trainableCount = trainable
        self.totalCount = offset
        var index: [String: Int] = [:]
        for (position, entry) in entries.enumerated() { index[entry.name] = position }
        indexByName = index
    }

    public func entry(_ name: String) -> ParameterEntry? {
        indexByName[name].map { entries[$0] }
    }

    /// The entry of a name that must exist (names are built by this file).
    public subscript(name: String) -> ParameterEntry {
        guard let index = indexByName[name] else { preconditionFailure("no parameter named \(name)") }
        return entries[index]
    }

    public var trainableEntries: [ParameterEntry] { entries.filter { $0.trainable } }

    /// Number of trainable parameters (the puzzle table excluded, alignment padding excluded).
    public var parameterCount: Int { entries.filter { $0.trainable }.reduce(0) { $0 + $1.count } }
}

/// The values of a layout in one buffer, plus the puzzle-embedding table.
public struct ParameterArena<T: KernelScalar>: @unchecked Sendable {
    public let layout: ParameterLayout
    public let values: Tensor<T>
    /// [numPuzzleIdentifiers + 1, puzzleEmbeddingDim]
    public var puzzleEmbedding: Tensor<T>

    public init(config: HRMConfig) {
        self.init(layout: ParameterLayout(config: config), puzzleRows: config.numPuzzleIdentifiers + 1, puzzleWidth: config.puzzleEmbeddingDim)
    }

    /// The arena of any layout (TRM's too) with a puzzle table [puzzleRows, puzzleWidth].
    init(layout: ParameterLayout, puzzleRows: Int, puzzleWidth: Int) {
        self.layout = layout
        values = Tensor(shape: [layout.totalCount])
        puzzleEmbedding = Tensor(shape: [puzzleRows, puzzleWidth])
    }

    /// Initialises every tensor per the spec from a seed (the puzzle table becomes zeros).
    public func initialize(seed: UInt64) {
        var generator = SplitMix64(seed: seed)
        for entry in layout.entries {
            let destination = values.pointer + entry.offset
            if let constant = entry.constant {
                for index in 0..<entry.count { destination[index] = T(constant) }
            } else {
                TruncatedNormal.fill(destination, count: entry.count, std: entry.initStd, generator: &generator)
            }
        }
        puzzleEmbedding.zero()
    }

    public func pointer(_ name: String) -> UnsafeMutablePointer<T> { values.pointer + layout[name].offset }
}
