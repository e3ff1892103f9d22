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
