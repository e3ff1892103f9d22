// The bf16 pair dot product of the bf16 attention kernels (FlashAttentionBF16.swift) on the real
// instruction, vdpbf16ps (AVX512_BF16); KernelsLanes16 builds the same kernels on an emulation of it
// (Sources/Kernels/Lanes16/DotPairs.swift).
import CAVX512BF16

/// acc[i] + a.hi[i] b.hi[i] + a.lo[i] b.lo[i], each 32-bit word of a and b a pair of bf16 values (the
/// even element in the low half).
@inline(__always)
func dotPairs(_ acc: SIMD16<Float>, _ a: SIMD16<UInt32>, _ b: SIMD16<UInt32>) -> SIMD16<Float> {
    arc_dpbf16ps(acc, unsafeBitCast(a, to: SIMD8<Int64>.self), unsafeBitCast(b, to: SIMD8<Int64>.self))
}
