// The test-only KernelsLanes16 (the AVX-512 and AVX512_BF16 attention sources built for AVX2, the bf16
// instruction emulated) as FlashAttentionBuilds, so the tests run that code through the driver's calls.
import Kernels
import KernelsLanes16

public enum LaneBuilds {
    /// The 16-lane fp32 kernels (KernelsAVX512's code).
    public static let sixteen = FlashAttentionBuild(
        name: "16 lanes built for AVX2", laneCount: 16, workspaceCount: KernelsLanes16.flashWorkspaceCount,
        forwardPair: KernelsLanes16.flashAttentionForwardPair, backwardPair: KernelsLanes16.flashAttentionBackwardPair)

    /// The bf16 forward on the emulated vdpbf16ps with the 16-lane fp32 backward, as the AVX-512 BF16 build pairs them.
    public static let bf16Emulated = FlashAttentionBuild(
        name: "bf16 forward, emulated", laneCount: 16,
        workspaceCount: { max(KernelsLanes16.bf16FlashWorkspaceCount(paddedSeq: $0, headDim: $1, queryTile: $2, keyTile: $3, forwardKeyTile: $4),
                              KernelsLanes16.flashWorkspaceCount(paddedSeq: $0, headDim: $1, queryTile: $2, keyTile: $3, forwardKeyTile: $4)) },
        forwardPair: KernelsLanes16.flashAttentionForwardPairBF16, backwardPair: KernelsLanes16.flashAttentionBackwardPair, trainable: false)

    /// The bf16 forward and backward on the emulated vdpbf16ps, as the AVX-512 BF16 training build pairs them.
    public static let bf16TrainingEmulated = FlashAttentionBuild(
        name: "bf16 forward and backward, emulated", laneCount: 16, workspaceCount: KernelsLanes16.bf16FlashTrainingWorkspaceCount,
        forwardPair: KernelsLanes16.flashAttentionForwardPairBF16, backwardPair: KernelsLanes16.flashAttentionBackwardPairBF16)
}
