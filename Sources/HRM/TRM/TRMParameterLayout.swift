// TRM's tensors in the parameter arena, under the official TRM state_dict names (docs/SPEC.md §9):
// the heads and embeddings of HRM, ONE network under `L_level.layers.<i>.` (no `H_level`), then the
// buffers H_init and L_init. Same init as HRM (§4); the puzzle table stays outside the arena.
import Kernels

extension ParameterLayout {
    /// The layout of a TRM model: trainable tensors first (the gradient arena is that prefix).
    public init(trm config: TRMConfig) {
        let d = config.hiddenSize, inter = config.intermediateSize, v = config.vocabSize
        let linearStd = 1 / Double(d).squareRoot()
        var specs: [(String, [Int], Bool, Double, Double?)] = [
            ("embed_tokens.embedding_weight", [v, d], true, linearStd, nil),
            ("lm_head.weight", [v, d], true, linearStd, nil),
            ("q_head.weight", [2, d], true, 0, nil),
            ("q_head.bias", [2], true, 0, -5),
        ]
        for layer in 0..<config.lLayers {
            let base = TRMNetworkNames.layerPrefix(layer)
            specs.append((base + TRMNetworkNames.qkv, [3 * d, d], true, linearStd, nil))
            specs.append((base + TRMNetworkNames.output, [d, d], true, linearStd, nil))
            specs.append((base + TRMNetworkNames.gateUp, [2 * inter, d], true, linearStd, nil))
            specs.append((base + TRMNetworkNames.down, [d, inter], true, 1 / Double(inter).squareRoot(), nil))
        }
        specs.append(("H_init", [d], false, 1, nil))
        specs.append(("L_init", [d], false, 1, nil))
        self.init(specs: specs)
    }
}

extension ParameterArena {
    /// The arena of a TRM model (zeros until `initialize(seed:)` or a load) and its puzzle table
    /// [numPuzzleIdentifiers + 1, puzzleEmbeddingDim].
    public init(trm config: TRMConfig) {
        self.init(layout: ParameterLayout(trm: config), puzzleRows: config.numPuzzleIdentifiers + 1, puzzleWidth: config.puzzleEmbeddingDim)
    }
}

/// Names inside the one network (relative to ParameterLayout.prefix).
enum TRMNetworkNames {
    static func layerPrefix(_ layer: Int) -> String { "L_level.layers.\(layer)." }
    static let qkv = "self_attn.qkv_proj.weight"
    static let output = "self_attn.o_proj.weight"
    static let gateUp = "mlp.gate_up_proj.weight"
    static let down = "mlp.down_proj.weight"
}
