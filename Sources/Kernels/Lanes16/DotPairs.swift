// vdpbf16ps emulated lane by lane, as Intel's manual defines it (the odd pair's product added first, then
// the even one's; bf16 x bf16 products are exact in fp32, each sum rounded to nearest even; the
// instruction's flushing of denormals is not emulated), so that the bf16 attention kernels
// (FlashAttentionBF16.swift, FlashAttentionBackwardBF16.swift, linked here) run on any AVX2 machine: for
// `--precision bf16` without bf16 instructions, and in the tests.

@inline(__always)
func dotPairs(_ acc: SIMD16<Float>, _ a: SIMD16<UInt32>, _ b: SIMD16<UInt32>) -> SIMD16<Float> {
    let high = SIMD16<UInt32>(repeating: 0xFFFF_0000)
    let aOdd = unsafeBitCast(a & high, to: SIMD16<Float>.self), bOdd = unsafeBitCast(b & high, to: SIMD16<Float>.self)
    let aEven = unsafeBitCast(a &<< 16, to: SIMD16<Float>.self), bEven = unsafeBitCast(b &<< 16, to: SIMD16<Float>.self)
    return (acc + aOdd * bOdd) + aEven * bEven
}

/// The emulation for tests: acc + the pair products of a and b (16 lanes).
public func emulatedDotPairs(_ acc: SIMD16<Float>, _ a: SIMD16<UInt32>, _ b: SIMD16<UInt32>) -> SIMD16<Float> {
    dotPairs(acc, a, b)
}
