// TRMConfig: the Tiny Recursive Model's hyper-parameters (docs/SPEC.md §9) and the published
// ARC configuration. One network of lLayers post-norm blocks serves both states; hCycles - 1 cycles
// run without gradient and the last is differentiated in full. puzzle_emb_len fixes the number of
// puzzle tokens P (0 = ceil(puzzleEmbeddingDim / D), HRM's rule). Training settings (batch size,
// exploration, rates, EMA) are the trainer's, as for HRMConfig.
import Kernels

public struct TRMConfig: Codable, Sendable, Equatable {
    public var hiddenSize: Int
    public var numHeads: Int
    public var expansion: Double
    /// Blocks of the one network (`L_level.layers.*`).
    public var lLayers: Int
    public var hCycles: Int
    public var lCycles: Int
    public var haltMaxSteps: Int
    /// Width of one puzzle-embedding row; 0 disables the puzzle embedding (then P must be 0).
    public var puzzleEmbeddingDim: Int
    /// The reference's `puzzle_emb_len`: P when non-zero, else ceil(puzzleEmbeddingDim / D).
    public var puzzleEmbeddingLength: Int
    /// Identifiers 1...N; the table has N + 1 rows (row 0 = blank).
    public var numPuzzleIdentifiers: Int
    public var vocabSize: Int
    /// Grid tokens per example (900 for the 30x30 canvas).
    public var seqLen: Int
    public var ropeTheta: Double
    public var rmsNormEpsilon: Double
    /// The reference's `no_ACT_continue` (for the ACT trainer; the model computes both Q logits
    /// either way): true = halt on q_halt > 0, no Q-continue target step or loss (docs/SPEC.md §9).
    public var noACTContinue: Bool

    public init(
        hiddenSize: Int, numHeads: Int, expansion: Double = 4, lLayers: Int, hCycles: Int, lCycles: Int,
        haltMaxSteps: Int = 16, puzzleEmbeddingDim: Int? = nil, puzzleEmbeddingLength: Int = 16,
        numPuzzleIdentifiers: Int = 1, vocabSize: Int = 12, seqLen: Int = 900,
        ropeTheta: Double = 10000, rmsNormEpsilon: Double = 1e-5, noACTContinue: Bool = true
    ) {
        self.hiddenSize = hiddenSize
        self.numHeads = numHeads
        self.expansion = expansion
        self.lLayers = lLayers
        self.hCycles = hCycles
        self.lCycles = lCycles
        self.haltMaxSteps = haltMaxSteps
        self.puzzleEmbeddingDim = puzzleEmbeddingDim ?? hiddenSize
        self.puzzleEmbeddingLength = puzzleEmbeddingLength
        self.numPuzzleIdentifiers = numPuzzleIdentifiers
        self.vocabSize = vocabSize
        self.seqLen = seqLen
        self.ropeTheta = ropeTheta
        self.rmsNormEpsilon = rmsNormEpsilon
        self.noACTContinue = noACTContinue
    }

    public var headDim: Int { hiddenSize / numHeads }
    /// SwiGLU width: round_up_to_256(round(expansion * D * 2 / 3)), as HRM.
    public var intermediateSize: Int { swiGLUIntermediateSize(dim: hiddenSize, expansion: expansion) }
    /// P: puzzleEmbeddingLength when non-zero, else ceil(puzzleEmbeddingDim / D).
    public var puzzleTokens: Int {
        puzzleEmbeddingLength != 0 ? puzzleEmbeddingLength : (puzzleEmbeddingDim + hiddenSize - 1) / max(1, hiddenSize)
    }
    /// S = seqLen + P.
    public var totalLength: Int { seqLen + puzzleTokens }
    /// W when seqLen = W * W (the position canvas), else nil.
    public var canvasWidth: Int? {
        guard seqLen > 0 else { return nil }
        var width = Int(Double(seqLen).squareRoot())
        while width * width > seqLen { width -= 1 }
        while (width + 1) * (width + 1) <= seqLen { width += 1 }
        return width * width == seqLen ? width : nil
    }

    /// Throws a message naming the field and its allowed range when the configuration cannot build a
    /// model. The size limits are HRMConfig's.
    public func validate() throws {
        func fail(_ message: String) throws { throw HRMError.invalidConfig("TRM " + message) }
        func check(_ name: String, _ value: Int, _ range: ClosedRange<Int>) throws {
            if !range.contains(value) { try fail("\(name) is \(value), expected \(range.lowerBound)...\(range.upperBound)") }
        }
        try check("hiddenSize", hiddenSize, 1...HRMConfig.maximumHiddenSize)
        try check("numHeads", numHeads, 1...hiddenSize)
        if hiddenSize % numHeads != 0 { try fail("hiddenSize \(hiddenSize) must be a multiple of numHeads \(numHeads)") }
        if headDim % 2 != 0 { try fail("head dim \(headDim) (hiddenSize / numHeads) must be even for RoPE") }
        if !(expansion > 0 && expansion <= HRMConfig.maximumExpansion) {
            try fail("expansion is \(expansion), expected a number in (0, \(HRMConfig.maximumExpansion)]")
        }
        if intermediateSize < 1 { try fail("expansion \(expansion) gives an empty SwiGLU layer for hiddenSize \(hiddenSize)") }
        try check("lLayers", lLayers, 1...HRMConfig.maximumLayers)
        try check("hCycles", hCycles, 1...HRMConfig.maximumCycles)
        try check("lCycles", lCycles, 1...HRMConfig.maximumCycles)
        try check("haltMaxSteps", haltMaxSteps, 1...HRMConfig.maximumHaltSteps)
        try check("puzzleEmbeddingDim", puzzleEmbeddingDim, 0...HRMConfig.maximumHiddenSize)
        try check("puzzleEmbeddingLength", puzzleEmbeddingLength, 0...HRMConfig.maximumSeqLen)
        // Both below HRMConfig.maximumHiddenSize (2^14) and maximumSeqLen (2^16): no overflow.
        if puzzleEmbeddingDim > puzzleTokens * hiddenSize {
            try fail("puzzleEmbeddingDim \(puzzleEmbeddingDim) does not fit puzzleEmbeddingLength \(puzzleEmbeddingLength) tokens of width \(hiddenSize) (at most \(puzzleTokens * hiddenSize))")
        }
        if puzzleEmbeddingDim == 0 && puzzleTokens != 0 {
            try fail("puzzleEmbeddingLength is \(puzzleEmbeddingLength) without a puzzle embedding (puzzleEmbeddingDim 0): expected 0")
        }
        try check("numPuzzleIdentifiers", numPuzzleIdentifiers, 0...(Int(Int32.max) - 1))
        try check("vocabSize", vocabSize, 1...HRMConfig.maximumVocabSize)
        try check("seqLen", seqLen, 1...HRMConfig.maximumSeqLen)
        if !(ropeTheta.isFinite && ropeTheta > 0) { try fail("ropeTheta is \(ropeTheta), expected a finite number > 0") }
        if !(rmsNormEpsilon.isFinite && rmsNormEpsilon >= 0) { try fail("rmsNormEpsilon is \(rmsNormEpsilon), expected a finite number >= 0") }
        // Products of values bounded above: the table is at most 2^31 x 2^14, the dense part far less.
        let (table, tableOverflow) = (numPuzzleIdentifiers + 1).multipliedReportingOverflow(by: puzzleEmbeddingDim)
        let parameters = ParameterLayout(trm: self).totalCount
        if tableOverflow || parameters > HRMConfig.maximumValues || table > HRMConfig.maximumValues - parameters {
            try fail("the model would need more than \(HRMConfig.maximumValues) values in one buffer (dense \(parameters), puzzle table \(numPuzzleIdentifiers + 1) x \(puzzleEmbeddingDim))")
        }
    }

    /// `validate()`, and a batch of `batchSize` examples fits: one activation tensor [batch, S, D]
    /// within HRMConfig.maximumValues.
    public func validate(batchSize: Int) throws {
        try validate()
        guard (1...HRMConfig.maximumBatchSize).contains(batchSize) else {
            throw HRMError.invalidConfig("TRM batch size is \(batchSize), expected 1...\(HRMConfig.maximumBatchSize)")
        }
        // Fits Int: batch <= 2^20, S <= 2^17, D <= 2^14.
        let activations = batchSize * totalLength * hiddenSize
        if activations > HRMConfig.maximumValues {
            throw HRMError.invalidConfig("TRM: a batch of \(batchSize) would need \(activations) values in one buffer [batch, \(totalLength), \(hiddenSize)], more than \(HRMConfig.maximumValues)")
        }
    }

    /// Decodes and validates (a stored config may come from an edited or foreign file).
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        hiddenSize = try c.decode(Int.self, forKey: .hiddenSize)
        numHeads = try c.decode(Int.self, forKey: .numHeads)
        expansion = try c.decode(Double.self, forKey: .expansion)
        lLayers = try c.decode(Int.self, forKey: .lLayers)
        hCycles = try c.decode(Int.self, forKey: .hCycles)
        lCycles = try c.decode(Int.self, forKey: .lCycles)
        haltMaxSteps = try c.decode(Int.self, forKey: .haltMaxSteps)
        puzzleEmbeddingDim = try c.decode(Int.self, forKey: .puzzleEmbeddingDim)
        puzzleEmbeddingLength = try c.decode(Int.self, forKey: .puzzleEmbeddingLength)
        numPuzzleIdentifiers = try c.decode(Int.self, forKey: .numPuzzleIdentifiers)
        vocabSize = try c.decode(Int.self, forKey: .vocabSize)
        seqLen = try c.decode(Int.self, forKey: .seqLen)
        ropeTheta = try c.decode(Double.self, forKey: .ropeTheta)
        rmsNormEpsilon = try c.decode(Double.self, forKey: .rmsNormEpsilon)
        noACTContinue = try c.decode(Bool.self, forKey: .noACTContinue)
        try validate()
    }

    /// The published ARC model (config/arch/trm.yaml with the README's ARC command: L_cycles 4;
    /// the yaml's default is 6): D 512, 8 heads, 2 layers, 3 x 4 cycles, 16 puzzle tokens.
    public static let paper = TRMConfig(
        hiddenSize: 512, numHeads: 8, expansion: 4, lLayers: 2, hCycles: 3, lCycles: 4, haltMaxSteps: 16,
        puzzleEmbeddingLength: 16)
}
