// BFloat16: fp32 <-> bf16 (the upper 16 bits of an IEEE single), rounded to nearest even, as
// PyTorch's and oneDNN's conversions do. Used by the bf16 matmuls (BF16Matmul.swift): a matmul's
// inputs are rounded to bf16, its products accumulate in fp32.
import KernelsAVX2
import KernelsAVX512

/// The bf16 bits of x, rounded to nearest, ties to even; NaN stays a (quiet) NaN, overflow gives +-inf.
@inlinable @inline(__always)
public func bfloat16Bits(_ x: Float) -> UInt16 {
    let bits = x.bitPattern
    if x.isNaN { return UInt16(truncatingIfNeeded: bits >> 16) | 0x0040 }
    let rounding: UInt32 = 0x7FFF &+ ((bits >> 16) & 1)
    return UInt16(truncatingIfNeeded: (bits &+ rounding) >> 16)
}

/// The fp32 value of bf16 bits (exact).
@inlinable @inline(__always)
public func bfloat16Value(_ bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
}

/// x rounded to the nearest bf16 value, kept as fp32.
@inlinable @inline(__always)
public func roundedToBFloat16(_ x: Float) -> Float {
    bfloat16Value(bfloat16Bits(x))
}

/// destination[i] = bf16 bits of source[i], i < count: the widest build of VectorMath.swift's converter the
/// CPU has (16 lanes AVX-512, 8 lanes AVX2), else the portable one below. All give the same bits.
@inlinable
public func convertToBFloat16(_ destination: UnsafeMutablePointer<UInt16>, _ source: UnsafePointer<Float>, count: Int) {
    if KernelsCPU.hasAVX512 { KernelsAVX512.lanesConvertToBFloat16(destination, source, count) }
    else if KernelsCPU.hasAVX2FMA { KernelsAVX2.lanesConvertToBFloat16(destination, source, count) }
    else { portableConvertToBFloat16(destination, source, count: count) }
}

/// destination[i] = source[i] rounded to bf16 and kept as fp32, i < count (in place allowed); dispatched
/// as convertToBFloat16.
@inlinable
public func roundToBFloat16(_ destination: UnsafeMutablePointer<Float>, _ source: UnsafePointer<Float>, count: Int) {
    if KernelsCPU.hasAVX512 { KernelsAVX512.lanesRoundToBFloat16(destination, source, count) }
    else if KernelsCPU.hasAVX2FMA { KernelsAVX2.lanesRoundToBFloat16(destination, source, count) }
    else { portableRoundToBFloat16(destination, source, count: count) }
}

/// convertToBFloat16 for any CPU (SIMD8 in baseline x86-64 code).
@inlinable
public func portableConvertToBFloat16(_ destination: UnsafeMutablePointer<UInt16>, _ source: UnsafePointer<Float>, count: Int) {
    var i = 0
    let raw = UnsafeRawPointer(source), out = UnsafeMutableRawPointer(destination)
    let one = SIMD8<UInt32>(repeating: 1), half = SIMD8<UInt32>(repeating: 0x7FFF)
    while i + 8 <= count {
        let x = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
        var rounded = (bits &+ half &+ ((bits &>> 16) & one)) &>> 16
        let nan = x .!= x
        if any(nan) { rounded.replace(with: (bits &>> 16) | SIMD8(repeating: 0x0040), where: nan) }
        out.storeBytes(of: SIMD8<UInt16>(truncatingIfNeeded: rounded), toByteOffset: i * 2, as: SIMD8<UInt16>.self)
        i += 8
    }
    while i < count {
        destination[i] = bfloat16Bits(source[i])
        i += 1
    }
}

/// roundToBFloat16 for any CPU (SIMD8 in baseline x86-64 code).
@inlinable
public func portableRoundToBFloat16(_ destination: UnsafeMutablePointer<Float>, _ source: UnsafePointer<Float>, count: Int) {
    var i = 0
    let raw = UnsafeRawPointer(source), out = UnsafeMutableRawPointer(destination)
    let one = SIMD8<UInt32>(repeating: 1), half = SIMD8<UInt32>(repeating: 0x7FFF)
    let upper = SIMD8<UInt32>(repeating: 0xFFFF_0000)
    while i + 8 <= count {
        let x = raw.loadUnaligned(fromByteOffset: i * 4, as: SIMD8<Float>.self)
        let bits = unsafeBitCast(x, to: SIMD8<UInt32>.self)
        var rounded = (bits &+ half &+ ((bits &>> 16) & one)) & upper
        let nan = x .!= x
        if any(nan) { rounded.replace(with: (bits & upper) | SIMD8(repeating: 0x0040_0000), where: nan) }
        out.storeBytes(of: unsafeBitCast(rounded, to: SIMD8<Float>.self), toByteOffset: i * 4, as: SIMD8<Float>.self)
        i += 8
    }
    while i < count {
        destination[i] = roundedToBFloat16(source[i])
        i += 1
    }
}
