// HRMConfig: the model's hyper-parameters and the named presets, in ONE place (docs/SPEC.md §4, §5),
// for both architectures (`architecture`: HRM, or TRM of §9, whose one network is `lLayers` blocks
// and which has no H layers). `paper` is the published configuration; `cpu` a small model tuned for
// minutes-long training runs on a CPU; `cpu-bench` the benchmark configuration of BENCHMARKS.md
// (TRM's versions: HRMConfig+TRM.swift). Training settings (batch size, exploration, rates) are the
// trainer's (Training's TrainerOptions).
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
    /// Width of one puzzle-embedding row; 0 disables the puzzle embedding (P = 0).
    public var puzzleEmbeddingDim: Int
    /// Identifiers 1...N; the table has N + 1 rows (row 0 = blank).
    public var numPuzzleIdentifiers: Int
    public var vocabSize: Int
    /// Grid tokens per example (900 for the 30x30 canvas).
    public var seqLen: Int
    public var ropeTheta: Double
    public var rmsNormEpsilon: Double
    /// HRM (two modules, 1-step gradient) or TRM (one network, the last cycle differentiated).
    public var architecture: ModelArchitecture = .hrm
    /// The TRM reference's `puzzle_emb_len`: P when non-zero, else ceil(puzzleEmbeddingDim / D)
    /// (HRM's rule; HRM configs keep 0).
    public var puzzleEmbeddingLength: Int = 0
    /// The TRM reference's `no_ACT_continue` (a training rule; the model computes both Q logits either
    /// way): true = a slot halts on q_halt > 0, no Q-continue target step or loss (docs/SPEC.md §9).
    public var noACTContinue: Bool = false

    public init(
        hiddenSize: Int, numHeads: Int, expansion: Double = 4, hLayers: Int, lLayers: Int,
        hCycles: Int = 2, lCycles: Int = 2, haltMaxSteps: Int = 16,
        puzzleEmbeddingDim: Int? = nil, numPuzzleIdentifiers: Int = 1, vocabSize: Int = 12, seqLen: Int = 900,
        ropeTheta: Double = 10000, rmsNormEpsilon: Double = 1e-5
    ) {
        self.hiddenSize = hiddenSize
        self.numHeads = numHeads
        self.expansion = expansion
        self.hLayers = hLayers
        self.lLayers = lLayers
        self.hCycles = hCycles
        self.lCycles = lCycles
        self.haltMaxSteps = haltMaxSteps
        self.puzzleEmbeddingDim = puzzleEmbeddingDim ?? hiddenSize
        self.numPuzzleIdentifiers = numPuzzleIdentifiers
        self.vocabSize = vocabSize
        self.seqLen = seqLen
        self.ropeTheta = ropeTheta
        self.rmsNormEpsilon = rmsNormEpsilon
    }

    public var headDim: Int { hiddenSize / numHeads }
    /// SwiGLU width: round_up_to_256(round(expansion * D * 2 / 3)).
    public var intermediateSize: Int { swiGLUIntermediateSize(dim: hiddenSize, expansion: expansion) }
    /// P: puzzleEmbeddingLength when non-zero, else ceil(puzzle_emb_ndim / D).
    public var puzzleTokens: Int {
        puzzleEmbeddingLength != 0 ? puzzleEmbeddingLength : (puzzleEmbeddingDim + hiddenSize - 1) / max(1, hiddenSize)
    }
    /// S = seqLen + P.
    public var totalLength: Int { seqLen + puzzleTokens }
    /// W when seqLen = W * W (the position canvas: 30 for ARC), else nil. Size-bucketed carries
    /// (HRMCarry side:) crop the top-left side x side corner of this canvas.
    public var canvasWidth: Int? {
        guard seqLen > 0 else { return nil }
        var width = Int(Double(seqLen).squareRoot())
        while width * width > seqLen { width -= 1 }
        while (width + 1) * (width + 1) <= seqLen { width += 1 }
        return width * width == seqLen ? width : nil
    }

    /// Largest values accepted for the sizes (far above the paper's model; they keep every size and
    /// allocation computable without overflow).
    public static let maximumHiddenSize = 16384
    public static let maximumLayers = 256
    public static let maximumCycles = 256
    public static let maximumHaltSteps = 1024
    public static let maximumExpansion = 64.0
    /// Tokens are bytes in the built datasets and in predictions.
    public static let maximumVocabSize = 256
    public static let maximumSeqLen = 65536
    public static let maximumBatchSize = 1 << 20
    /// Parameters (dense + puzzle table) and one activation tensor [batch, S, D], in values.
    public static let maximumValues = 1 << 34

    /// Throws a message naming the field and its allowed range when the configuration cannot build a model.
    public func validate() throws {
        func fail(_ message: String) throws { throw HRMError.invalidConfig(message) }
        func check(_ name: String, _ value: Int, _ range: ClosedRange<Int>) throws {
            if !range.contains(value) { try fail("\(name) is \(value), expected \(range.lowerBound)...\(range.upperBound)") }
        }
        try check("hiddenSize", hiddenSize, 1...Self.maximumHiddenSize)
        try check("numHeads", numHeads, 1...hiddenSize)
        if hiddenSize % numHeads != 0 { try fail("hiddenSize \(hiddenSize) must be a multiple of numHeads \(numHeads)") }
        if headDim % 2 != 0 { try fail("head dim \(headDim) (hiddenSize / numHeads) must be even for RoPE") }
        if !(expansion > 0 && expansion <= Self.maximumExpansion) { try fail("expansion is \(expansion), expected a number in (0, \(Self.maximumExpansion)]") }
        if intermediateSize < 1 { try fail("expansion \(expansion) gives an empty SwiGLU layer for hiddenSize \(hiddenSize)") }
        switch architecture {
        case .hrm:
            try check("hLayers", hLayers, 1...Self.maximumLayers)
            if puzzleEmbeddingLength != 0 { try fail("puzzleEmbeddingLength is \(puzzleEmbeddingLength); HRM takes ceil(puzzleEmbeddingDim / D) puzzle tokens: expected 0") }
        case .trm:
            if hLayers != 0 { try fail("hLayers is \(hLayers); TRM has one network (lLayers blocks) and no H layers: expected 0") }
            try check("puzzleEmbeddingLength", puzzleEmbeddingLength, 0...Self.maximumSeqLen)
        }
        try check("lLayers", lLayers, 1...Self.maximumLayers)
        try check("hCycles", hCycles, 1...Self.maximumCycles)
        try check("lCycles", lCycles, 1...Self.maximumCycles)
        try check("haltMaxSteps", haltMaxSteps, 1...Self.maximumHaltSteps)
        try check("puzzleEmbeddingDim", puzzleEmbeddingDim, 0...Self.maximumHiddenSize)
        // Both at most 2^16 and 2^14: the product fits Int.
        if puzzleEmbeddingDim > puzzleTokens * hiddenSize {
            try fail("puzzleEmbeddingDim \(puzzleEmbeddingDim) does not fit puzzleEmbeddingLength \(puzzleEmbeddingLength) tokens of width \(hiddenSize) (at most \(puzzleTokens * hiddenSize))")
        }
        if puzzleEmbeddingDim == 0 && puzzleTokens != 0 {
            try fail("puzzleEmbeddingLength is \(puzzleEmbeddingLength) without a puzzle embedding (puzzleEmbeddingDim 0): expected 0")
        }
        try check("numPuzzleIdentifiers", numPuzzleIdentifiers, 0...(Int(Int32.max) - 1))
        try check("vocabSize", vocabSize, 1...Self.maximumVocabSize)
        try check("seqLen", seqLen, 1...Self.maximumSeqLen)
        if !(ropeTheta.isFinite && ropeTheta > 0) { try fail("ropeTheta is \(ropeTheta), expected a finite number > 0") }
        if !(rmsNormEpsilon.isFinite && rmsNormEpsilon >= 0) { try fail("rmsNormEpsilon is \(rmsNormEpsilon), expected a finite number >= 0") }
        // With the bounds above this product fits Int; cap what the model would allocate.
        let parameters = ParameterLayout(config: self).totalCount + (numPuzzleIdentifiers + 1) * puzzleEmbeddingDim
        if parameters > Self.maximumValues {
            try fail("the model would need \(parameters) values in one buffer, more than \(Self.maximumValues)")
        }
    }

    /// `validate()`, and a batch of `batchSize` examples fits: batchSize in range and one activation
    /// tensor [batchSize, S, D] within `maximumValues` (the batch size is the trainer's or the
    /// evaluation's, not part of the model).
    public func validate(batchSize: Int) throws {
        try validate()
        guard (1...Self.maximumBatchSize).contains(batchSize) else {
            throw HRMError.invalidConfig("batch size is \(batchSize), expected 1...\(Self.maximumBatchSize)")
        }
        // Fits Int: batch <= 2^20, S <= 2^16 + 2^14, D <= 2^14.
        let activations = batchSize * totalLength * hiddenSize
        if activations > Self.maximumValues {
            throw HRMError.invalidConfig("a batch of \(batchSize) would need \(activations) values in one buffer [batch, \(totalLength), \(hiddenSize)], more than \(Self.maximumValues)")
        }
    }

    /// Decodes and validates (a stored config may come from an edited or foreign file). Keys of
    /// older files that are no longer model fields (batchSize, haltExplorationProbability: the
    /// trainer's, in TrainerOptions) are ignored; files from before TRM (no architecture,
    /// puzzleEmbeddingLength, noACTContinue) are HRM configs.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        numHeads = try c.decode(Int.self, forKey: .numHeads)
        expansion = try c.decode(Double.self, forKey: .expansion)
        hLayers = try c.decode(Int.self, forKey: .hLayers)
        lLayers = try c.decode(Int.self, forKey: .lLayers)
        hCycles = try c.decode(Int.self, forKey: .hCycles)
        lCycles = try c.decode(Int.self, forKey: .lCycles)
        haltMaxSteps = try c.decode(Int.self, forKey: .haltMaxSteps)
        puzzleEmbeddingDim = try c.decode(Int.self, forKey: .puzzleEmbeddingDim)
        numPuzzleIdentifiers = try c.decode(Int.self, forKey: .numPuzzleIdentifiers)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        seqLen = try c.decode(Int.self, forKey: .seqLen)
        ropeTheta = try c.decode(Double.self, forKey: .ropeTheta)
        rmsNormEpsilon = try c.decode(Double.self, forKey: .rmsNormEpsilon)
        architecture = try c.decodeIfPresent(ModelArchitecture.self, forKey: .architecture) ?? .hrm
        puzzleEmbeddingLength = try c.decodeIfPresent(Int.self, forKey: .puzzleEmbeddingLength) ?? 0
        noACTContinue = try c.decodeIfPresent(Bool.self, forKey: .noACTContinue) ?? false
        try validate()
    }

    /// Encodes every field; the three TRM-era fields for a TRM config or when they differ from HRM's
    /// values, so an HRM config is written exactly as before them (run folders and checkpoints stay
    /// comparable).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(hiddenSize, forKey: .hiddenSize)
        try c.encode(numHeads, forKey: .numHeads)
        try c.encode(expansion, forKey: .expansion)
        try c.encode(hLayers, forKey: .hLayers)
        try c.encode(lLayers, forKey: .lLayers)
        try c.encode(hCycles, forKey: .hCycles)
        try c.encode(lCycles, forKey: .lCycles)
        try c.encode(haltMaxSteps, forKey: .haltMaxSteps)
        try c.encode(puzzleEmbeddingDim, forKey: .puzzleEmbeddingDim)
        try c.encode(numPuzzleIdentifiers, forKey: .numPuzzleIdentifiers)
        try c.encode(vocabSize, forKey: .vocabSize)
        try c.encode(seqLen, forKey: .seqLen)
        try c.encode(ropeTheta, forKey: .ropeTheta)
        try c.encode(rmsNormEpsilon, forKey: .rmsNormEpsilon)
        // A TRM config writes all three (readers of the official field set need them).
        let trm = architecture != .hrm
        if trm { try c.encode(architecture, forKey: .architecture) }
        if trm || puzzleEmbeddingLength != 0 { try c.encode(puzzleEmbeddingLength, forKey: .puzzleEmbeddingLength) }
        if trm || noACTContinue { try c.encode(noACTContinue, forKey: .noACTContinue) }
    }

    enum CodingKeys: String, CodingKey {
        case hiddenSize, numHeads, expansion, hLayers, lLayers, hCycles, lCycles, haltMaxSteps, puzzleEmbeddingDim
        case numPuzzleIdentifiers, vocabSize, seqLen, ropeTheta, rmsNormEpsilon, architecture, puzzleEmbeddingLength, noACTContinue
    }

    /// The paper's model (27M parameters without the puzzle table).
    public static let paper = HRMConfig(hiddenSize: 512, numHeads: 8, expansion: 4, hLayers: 4, lLayers: 4, hCycles: 2, lCycles: 2, haltMaxSteps: 16)
    /// A small model for minutes-long CPU runs on 2 cores (README "What a CPU budget buys"). H/L cycles
    /// 1/2 rather than the reference's 2/2: half the block applications per step, so 1.6x the steps in
    /// a given time, which solved more development tasks at 30 and 60 minutes (BENCHMARKS.md).
    public static let cpu = HRMConfig(hiddenSize: 64, numHeads: 2, expansion: 4, hLayers: 1, lLayers: 1, hCycles: 1, lCycles: 2, haltMaxSteps: 4)
    /// The benchmark configuration (BENCHMARKS.md).
    public static let cpuBench = HRMConfig(hiddenSize: 128, numHeads: 4, expansion: 4, hLayers: 2, lLayers: 2, hCycles: 2, lCycles: 2, haltMaxSteps: 16)

    public static var presetNames: [String] { ModelPreset.allCases.map(\.rawValue) }
    public static func preset(named name: String) throws -> HRMConfig {
        guard let preset = ModelPreset(rawValue: name) else {
            throw HRMError.invalidConfig("unknown preset '\(name)' (known: \(presetNames.joined(separator: ", ")))")
        }
        return preset.config(for: .hrm)
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
