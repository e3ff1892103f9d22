// HRMConfig: the model's hyper-parameters and the named presets, in ONE place (HRM-SPEC §4, §5).
// `paper` is the published configuration; `cpu` a small model for CPU training (the training issue
// tunes it); `cpu-bench` the benchmark configuration of BENCHMARKS.md.
import Kernels

public struct HRMConfig: Codable, Sendable, Equatable {
    public var hiddenSize: Int
    public var numHeads: Int
    public var expansion: Double
    public var hLayers: Int
    public var lLayers: Int
    public var hCycles: Int
    public var lCycles: Int
    public var haltMaxSteps: Int
    public var haltExplorationProbability: Double
    /// Width of one puzzle-embedding row; 0 disables the puzzle embedding (P = 0).
    public var puzzleEmbeddingDim: Int
    /// Identifiers 1...N; the table has N + 1 rows (row 0 = blank).
    public var numPuzzleIdentifiers: Int
    public var vocabSize: Int
    /// Grid tokens per example (900 for the 30x30 canvas).
    public var seqLen: Int
    public var batchSize: Int
    public var ropeTheta: Double
    public var rmsNormEpsilon: Double

    public init(
        hiddenSize: Int, numHeads: Int, expansion: Double = 4, hLayers: Int, lLayers: Int,
        hCycles: Int = 2, lCycles: Int = 2, haltMaxSteps: Int = 16, haltExplorationProbability: Double = 0.1,
        puzzleEmbeddingDim: Int? = nil, numPuzzleIdentifiers: Int = 1, vocabSize: Int = 12, seqLen: Int = 900,
        batchSize: Int = 768, ropeTheta: Double = 10000, rmsNormEpsilon: Double = 1e-5
    ) {
        self.hiddenSize = hiddenSize
        self.numHeads = numHeads
        self.expansion = expansion
        self.hLayers = hLayers
        self.lLayers = lLayers
        self.hCycles = hCycles
        self.lCycles = lCycles
        self.haltMaxSteps = haltMaxSteps
        self.haltExplorationProbability = haltExplorationProbability
        self.puzzleEmbeddingDim = puzzleEmbeddingDim ?? hiddenSize
        self.numPuzzleIdentifiers = numPuzzleIdentifiers
        self.vocabSize = vocabSize
        self.seqLen = seqLen
        self.batchSize = batchSize
        self.ropeTheta = ropeTheta
        self.rmsNormEpsilon = rmsNormEpsilon
    }

    public var headDim: Int { hiddenSize / numHeads }
    /// SwiGLU width: round_up_to_256(round(expansion * D * 2 / 3)).
    public var intermediateSize: Int { swiGLUIntermediateSize(dim: hiddenSize, expansion: expansion) }
    /// P = ceil(puzzle_emb_ndim / D).
    public var puzzleTokens: Int { (puzzleEmbeddingDim + hiddenSize - 1) / hiddenSize }
    /// S = seqLen + P.
    public var totalLength: Int { seqLen + puzzleTokens }

    /// Throws a message naming the field when the configuration cannot build a model.
    public func validate() throws {
        func fail(_ message: String) throws { throw HRMError.invalidConfig(message) }
        if hiddenSize <= 0 { try fail("hiddenSize must be positive (got \(hiddenSize))") }
        if numHeads <= 0 || hiddenSize % numHeads != 0 { try fail("hiddenSize \(hiddenSize) must be a multiple of numHeads \(numHeads)") }
        if headDim % 2 != 0 { try fail("head dim \(headDim) must be even for RoPE") }
        if hLayers <= 0 || lLayers <= 0 { try fail("hLayers and lLayers must be positive") }
        if hCycles <= 0 || lCycles <= 0 { try fail("hCycles and lCycles must be positive") }
        if puzzleEmbeddingDim < 0 { try fail("puzzleEmbeddingDim must be >= 0") }
        if numPuzzleIdentifiers < 0 { try fail("numPuzzleIdentifiers must be >= 0") }
        if seqLen <= 0 || vocabSize <= 0 || batchSize <= 0 { try fail("seqLen, vocabSize and batchSize must be positive") }
    }

    /// The paper's model (27M parameters without the puzzle table).
    public static let paper = HRMConfig(hiddenSize: 512, numHeads: 8, expansion: 4, hLayers: 4, lLayers: 4, hCycles: 2, lCycles: 2, haltMaxSteps: 16, batchSize: 768)
    /// A small model for minutes-long CPU runs on 2 cores (chosen by measurement: README "Training on a CPU").
    public static let cpu = HRMConfig(hiddenSize: 64, numHeads: 2, expansion: 4, hLayers: 1, lLayers: 1, hCycles: 2, lCycles: 2, haltMaxSteps: 4, batchSize: 16)
    /// The benchmark configuration (BENCHMARKS.md).
    public static let cpuBench = HRMConfig(hiddenSize: 128, numHeads: 4, expansion: 4, hLayers: 2, lLayers: 2, hCycles: 2, lCycles: 2, haltMaxSteps: 16, batchSize: 8)

    public static let presetNames = ["paper", "cpu", "cpu-bench"]
    public static func preset(named name: String) throws -> HRMConfig {
        switch name {
        case "paper": return .paper
        case "cpu": return .cpu
        case "cpu-bench": return .cpuBench
        default: throw HRMError.invalidConfig("unknown preset '\(name)' (known: \(presetNames.joined(separator: ", ")))")
        }
    }
}

public enum HRMError: Error, CustomStringConvertible, Equatable {
    case invalidConfig(String)
    case checkpoint(String)
    case safetensors(String)
    public var description: String {
        switch self {
        case .invalidConfig(let message): return "invalid HRM config: \(message)"
        case .checkpoint(let message): return "checkpoint: \(message)"
        case .safetensors(let message): return "safetensors: \(message)"
        }
    }
}
