// KernelsLanes16 (the AVX-512 and AVX512_BF16 attention sources built for AVX2, the bf16 instruction
// emulated) as FlashAttentionBuilds, so the tests run that code through the driver's calls.
import Foundation
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

    /// The bf16 forward and backward on the emulated vdpbf16ps, as the AVX-512 BF16 training build pairs them
    /// (the build emulated bf16 matmuls run with).
    public static let bf16TrainingEmulated = FlashAttentionBuild.avx2EmulatedBF16

    /// Calls of a counted build's forward and backward pairs (from any worker thread).
    public final class Calls: @unchecked Sendable {
        let lock = NSLock()
        var forwardCount = 0, backwardCount = 0
        public var forward: Int { lock.lock(); defer { lock.unlock() }; return forwardCount }
        public var backward: Int { lock.lock(); defer { lock.unlock() }; return backwardCount }
    }

    /// `build` with its forward and backward pair calls counted (to check that a model ran it).
    public static func counted(_ build: FlashAttentionBuild) -> (build: FlashAttentionBuild, calls: Calls) {
        let calls = Calls()
        let counted = FlashAttentionBuild(
            name: build.name + ", counted", laneCount: build.laneCount, workspaceCount: build.workspaceCount,
            forwardPair: { out, outStride, lse, q, k, v, qkvStride, seq, headDim, scale, queryTile, keyTile, forwardKeyTile, paddedSeq, workspace in
                calls.lock.lock(); calls.forwardCount += 1; calls.lock.unlock()
                build.forwardPair(out, outStride, lse, q, k, v, qkvStride, seq, headDim, scale, queryTile, keyTile, forwardKeyTile, paddedSeq, workspace)
            },
            backwardPair: { dq, dk, dv, dqkvStride, dout, out, outStride, lse, q, k, v, qkvStride, seq, headDim, scale, queryTile, keyTile,
                            forwardKeyTile, paddedSeq, workspace in
                calls.lock.lock(); calls.backwardCount += 1; calls.lock.unlock()
                build.backwardPair(dq, dk, dv, dqkvStride, dout, out, outStride, lse, q, k, v, qkvStride, seq, headDim, scale, queryTile,
                                   keyTile, forwardKeyTile, paddedSeq, workspace)
            }, trainable: build.trainable)
        return (counted, calls)
    }
}
