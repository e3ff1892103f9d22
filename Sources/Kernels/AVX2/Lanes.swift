// The vector width KernelsAVX2 is written in: 8 Float lanes, one AVX2 register. FlashAttentionLanes.swift
// and VectorMath.swift are written in these names and shared with the 16-lane builds (../AVX512/Lanes.swift).

/// One register of Float lanes.
typealias FloatLanes = SIMD8<Float>
/// Int32 lanes of the same width (masks, exponent bits).
typealias Int32Lanes = SIMD8<Int32>
/// UInt32 / UInt16 lanes of the same width (bf16 conversion).
typealias UInt32Lanes = SIMD8<UInt32>
typealias UInt16Lanes = SIMD8<UInt16>

/// Lanes per register.
@inline(__always) var laneCount: Int { 8 }

/// 0, 1, ..., laneCount - 1.
@inline(__always) var laneIndices: Int32Lanes { Int32Lanes(0, 1, 2, 3, 4, 5, 6, 7) }
