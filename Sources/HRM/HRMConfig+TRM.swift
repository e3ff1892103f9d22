// TRM's configurations (docs/SPEC.md §9): the factory for a TRM shape and its presets. A TRM config
// is an HRMConfig with architecture .trm, no H layers (its one network is `lLayers` blocks),
// `puzzleEmbeddingLength` puzzle tokens and, as the reference's ARC runs, no ACT continue.

extension HRMConfig {
    /// A TRM configuration (validate before use).
    public static func trm(
        hiddenSize: Int, numHeads: Int, expansion: Double = 4, lLayers: Int, hCycles: Int, lCycles: Int,
        haltMaxSteps: Int = 16, puzzleEmbeddingDim: Int? = nil, puzzleEmbeddingLength: Int = 16,
        numPuzzleIdentifiers: Int = 1, vocabSize: Int = 12, seqLen: Int = 900,
        ropeTheta: Double = 10000, rmsNormEpsilon: Double = 1e-5, noACTContinue: Bool = true
    ) -> HRMConfig {
        var c = HRMConfig(hiddenSize: hiddenSize, numHeads: numHeads, expansion: expansion, hLayers: 0, lLayers: lLayers,
                          hCycles: hCycles, lCycles: lCycles, haltMaxSteps: haltMaxSteps, puzzleEmbeddingDim: puzzleEmbeddingDim,
                          numPuzzleIdentifiers: numPuzzleIdentifiers, vocabSize: vocabSize, seqLen: seqLen,
                          ropeTheta: ropeTheta, rmsNormEpsilon: rmsNormEpsilon)
        c.architecture = .trm
        c.puzzleEmbeddingLength = puzzleEmbeddingLength
        c.noACTContinue = noACTContinue
        return c
    }

    /// The published ARC model (config/arch/trm.yaml with the README's ARC command: L_cycles 4;
    /// the yaml's default is 6): D 512, 8 heads, 2 layers, 3 x 4 cycles, 16 puzzle tokens, ~7M parameters.
    public static let trmPaper = HRMConfig.trm(hiddenSize: 512, numHeads: 8, lLayers: 2, hCycles: 3, lCycles: 4, haltMaxSteps: 16,
                                               puzzleEmbeddingLength: 16)
    /// A small TRM for minutes-long CPU runs, the size of the HRM `cpu` preset's (D 64, 2 heads, 2
    /// blocks, 2 x 2 cycles, 4 ACT steps) with one puzzle token: the paper's 16 puzzle tokens would be
    /// a quarter of the tokens of an 8x8 canvas.
    public static let trmCPU = HRMConfig.trm(hiddenSize: 64, numHeads: 2, lLayers: 2, hCycles: 2, lCycles: 2, haltMaxSteps: 4,
                                             puzzleEmbeddingLength: 0)
    /// The benchmark configuration for the step against the official TRM code (BENCHMARKS.md): the
    /// HRM cpu-bench width (D 128, 4 heads) with the paper's recursion (2 layers, 3 x 4 cycles, 16
    /// puzzle tokens, 16 ACT steps).
    public static let trmCPUBench = HRMConfig.trm(hiddenSize: 128, numHeads: 4, lLayers: 2, hCycles: 3, lCycles: 4, haltMaxSteps: 16,
                                                  puzzleEmbeddingLength: 16)
}

extension HRMConfig {
    /// Block applications per inner step: HRM hCycles * (lCycles * lLayers + hLayers), TRM
    /// hCycles * (lCycles + 1) * lLayers (its one network for the latent and the answer updates).
    public var blockApplicationsPerStep: Int {
        switch architecture {
        case .hrm: return hCycles * (lCycles * lLayers + hLayers)
        case .trm: return hCycles * (lCycles + 1) * lLayers
        }
    }

    /// Block applications differentiated by the backward: HRM's 1-step gradient the last L and H
    /// module (lLayers + hLayers), TRM's whole last cycle ((lCycles + 1) * lLayers).
    public var recordedBlockApplications: Int {
        switch architecture {
        case .hrm: return lLayers + hLayers
        case .trm: return (lCycles + 1) * lLayers
        }
    }

    /// Values the backward keeps for `batch` examples of `tokens` grid tokens (default seqLen): per
    /// recorded block the input, rotated qkv (3 D), attention output, hidden, output (7 D in all),
    /// gate|up (2 I) and the SwiGLU product (I), two reciprocal rms values and the attention's row
    /// log-sum-exp (one per head), per row (rows = batch * (P + tokens)). Float: 4 bytes each.
    public func recordedActivationValues(batch: Int, tokens: Int? = nil) -> Int {
        let rows = batch * (puzzleTokens + (tokens ?? seqLen))
        return recordedBlockApplications * rows * (7 * hiddenSize + 3 * intermediateSize + 2 + numHeads)
    }
}
