// The vector width KernelsAVX512 is written in: 16 Float lanes, one AVX-512 register. The kernels
// themselves (FlashAttentionLanes.swift) are a symbolic link to KernelsAVX2's file: one source, two widths.

/// One register of Float lanes.
typealias FloatLanes = SIMD16<Float>
/// Int32 lanes of the same width (masks, exponent bits).
typealias Int32Lanes = SIMD16<Int32>

/// Lanes per register.
@inline(__always) var laneCount: Int { 16 }

/// 0, 1, ..., laneCount - 1.
@inline(__always) var laneIndices: Int32Lanes { Int32Lanes(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) }
