// The vector width of KernelsAVX512 (and of KernelsLanes16, which links this file and
// builds the same 16-lane code for AVX2): 16 Float lanes, one AVX-512 register. The kernels themselves
// (FlashAttentionLanes.swift, VectorMath.swift) are symbolic links to KernelsAVX2's files: one source, two widths.

/// One register of Float lanes.
typealias FloatLanes = SIMD16<Float>
/// Int32 lanes of the same width (masks, exponent bits).
typealias Int32Lanes = SIMD16<Int32>
/// UInt32 / UInt16 lanes of the same width (bf16 conversion).
typealias UInt32Lanes = SIMD16<UInt32>
typealias UInt16Lanes = SIMD16<UInt16>

/// Lanes per register.
@inline(__always) var laneCount: Int { 16 }

/// 0, 1, ..., laneCount - 1.
@inline(__always) var laneIndices: Int32Lanes { Int32Lanes(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15) }

// Reductions written here rather than the standard library's SIMD sum() / max(): those are emitted as
// shared (weak) specializations that every module using them defines under one name, and the linker
// would keep one copy for all, compiled for whichever module's instruction set came first
// (WideModuleSymbolTests). Pairwise halving.

/// The sum of the lanes.
@inline(__always) func horizontalSum(_ v: FloatLanes) -> Float {
    let eight = v.lowHalf + v.highHalf, four = eight.lowHalf + eight.highHalf, two = four.lowHalf + four.highHalf
    return two[0] + two[1]
}

/// The largest lane (NaN lanes ignored unless all are NaN in a half).
@inline(__always) func horizontalMaximum(_ v: FloatLanes) -> Float {
    var eight = v.lowHalf
    eight.replace(with: v.highHalf, where: v.highHalf .> eight)
    var four = eight.lowHalf
    four.replace(with: eight.highHalf, where: eight.highHalf .> four)
    var two = four.lowHalf
    two.replace(with: four.highHalf, where: four.highHalf .> two)
    return two[1] > two[0] ? two[1] : two[0]
}
