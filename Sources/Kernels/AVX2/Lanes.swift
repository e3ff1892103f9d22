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

// Reductions written here rather than the standard library's SIMD sum() / max(): those are emitted as
// shared (weak) specializations that every module using them defines under one name, and the linker
// would keep one copy for all, compiled for whichever module's instruction set came first
// (WideModuleSymbolTests). Pairwise halving.

/// The sum of the lanes.
@inline(__always) func horizontalSum(_ v: FloatLanes) -> Float {
    let four = v.lowHalf + v.highHalf, two = four.lowHalf + four.highHalf
    return two[0] + two[1]
}

/// The largest lane (NaN lanes ignored unless all are NaN in a half).
@inline(__always) func horizontalMaximum(_ v: FloatLanes) -> Float {
    var four = v.lowHalf
    four.replace(with: v.highHalf, where: v.highHalf .> four)
    var two = four.lowHalf
    two.replace(with: four.highHalf, where: four.highHalf .> two)
    return two[1] > two[0] ? two[1] : two[0]
}
