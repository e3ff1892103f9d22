// Test only: KernelsAVX512's 16-lane attention kernels (the same FlashAttentionLanes.swift, linked here)
// compiled for AVX2 + FMA instead of AVX-512, so that every AVX2 machine runs and tests the 16-lane
// logic (tiles, tails, masks, workspace layout); on a CPU with AVX-512 the real module runs it too.

/// One register of Float lanes (two AVX2 registers in this build).
typealias FloatLanes = SIMD16<Float>
/// Int32 lanes of the same width (masks, exponent bits).
typealias Int32Lanes = SIMD16<Int32>

/// Lanes per register.
@inline(__always) var laneCount: Int { 16 }

/// 0, 1, ..., laneCount - 1.
@inline(__always) var laneIndices: Int32Lanes { Int32Lanes(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) }
