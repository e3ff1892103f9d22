// The Float inner loops of Kernels (softmax exp, silu product, max, dot), written in FloatLanes like
// FlashAttentionLanes.swift: 8 lanes in KernelsAVX2 (AVX2 + FMA, `-target-cpu haswell`), 16 in
// KernelsAVX512 (this file through a symbolic link; and KernelsLanes16). Kernels calls
// them only when the CPU has those features (KernelsCPU, read from /proc/cpuinfo), so the binaries
// still run on older x86-64. Functions are @inline(never) so the wide code never lands in a baseline
// caller. Only pointers and scalars cross the module boundary (no SIMD types), so there is no ABI mismatch.

/// expf lane by lane (Cephes polynomial, as Kernels' fastExponential), written with fused
/// multiply-adds: Swift does not contract `a * b + c` itself, and this build may use FMA (measured
/// on the silu product, AMD EPYC Zen 1: 2.4 -> 1.85 ns per element, one thread).
@inline(__always)
func expLanes(_ input: FloatLanes) -> FloatLanes {
    let magic = FloatLanes(repeating: 12582912)  // 1.5 * 2^23
    let low = FloatLanes(repeating: -87.3), high = FloatLanes(repeating: 88.3)
    var x = input.replacing(with: low, where: input .< low)
    x.replace(with: high, where: x .> high)
    let shifted = magic.addingProduct(x, FloatLanes(repeating: 1.44269504088896341))
    let fx = shifted - magic
    x = x.addingProduct(fx, FloatLanes(repeating: -0.693359375))
    x = x.addingProduct(fx, FloatLanes(repeating: 2.12194440e-4))
    let z = x * x
    var y = FloatLanes(repeating: 1.3981999507e-3).addingProduct(FloatLanes(repeating: 1.9875691500e-4), x)
    y = FloatLanes(repeating: 8.3334519073e-3).addingProduct(y, x)
    y = FloatLanes(repeating: 4.1665795894e-2).addingProduct(y, x)
    y = FloatLanes(repeating: 1.6666665459e-1).addingProduct(y, x)
    y = FloatLanes(repeating: 5.0000001201e-1).addingProduct(y, x)
    y = x.addingProduct(y, z) + 1
    let integer = unsafeBitCast(shifted, to: Int32Lanes.self) &- 0x4B40_0000
    return y * unsafeBitCast((integer &+ 127) &<< 23, to: FloatLanes.self)
}

@inline(never)
public func lanesExponentialShiftedInPlace(_ x: UnsafeMutablePointer<Float>, _ count: Int, _ shift: Float) -> Float {
    var sum0 = FloatLanes(repeating: 0), sum1 = FloatLanes(repeating: 0)
    let shiftVector = FloatLanes(repeating: shift)
    let raw = UnsafeMutableRawPointer(x)
    var j = 0
    while j + 2 * laneCount <= count {
        let a = expLanes(raw.loadUnaligned(fromByteOffset: j * 4, as: FloatLanes.self) - shiftVector)
        let b = expLanes(raw.loadUnaligned(fromByteOffset: j * 4 + laneBytes, as: FloatLanes.self) - shiftVector)
        raw.storeBytes(of: a, toByteOffset: j * 4, as: FloatLanes.self)
        raw.storeBytes(of: b, toByteOffset: j * 4 + laneBytes, as: FloatLanes.self)
        sum0 += a
        sum1 += b
        j += 2 * laneCount
    }
    var total = horizontalSum(sum0 + sum1)
    while j < count {
        var lane = FloatLanes(repeating: -100)
        lane[0] = x[j] - shift
        let value = expLanes(lane)[0]
        x[j] = value
        total += value
        j += 1
    }
    return total
}

/// -x log2(e) clamped above at 126, the argument of exp2Lanes for e^-x in the sigmoid: below -125 (x > 86.6)
/// exp2Lanes clamps to 2^-125 (sigmoid 1 to Float precision), above 126 (x < -87.3) 1 + 2^126 keeps the
/// sigmoid at ~2^-126 instead of overflowing. exp2Lanes's 5 multiply-adds instead of expLanes's range reduction
/// and degree-6 polynomial: the silu product 1.64 -> 1.14 ns per element in cache (AMD EPYC Zen 1, one thread).
@inline(__always)
func negativeLog2e(_ x: FloatLanes) -> FloatLanes {
    let high = FloatLanes(repeating: 126)
    var t = x * FloatLanes(repeating: -1.44269504088896341)
    t.replace(with: high, where: t .> high)
    return t
}

@inline(never)
public func lanesSiluProduct(_ out: UnsafeMutablePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, _ count: Int) {
    let g = UnsafeRawPointer(gate), u = UnsafeRawPointer(up), o = UnsafeMutableRawPointer(out)
    var j = 0
    while j + laneCount <= count {
        let x = g.loadUnaligned(fromByteOffset: j * 4, as: FloatLanes.self)
        let y = u.loadUnaligned(fromByteOffset: j * 4, as: FloatLanes.self)
        o.storeBytes(of: x / (1 + exp2Lanes(negativeLog2e(x))) * y, toByteOffset: j * 4, as: FloatLanes.self)
        j += laneCount
    }
    while j < count {
        var lane = FloatLanes(repeating: 0)
        lane[0] = gate[j]
        out[j] = gate[j] / (1 + exp2Lanes(negativeLog2e(lane))[0]) * up[j]
        j += 1
    }
}

@inline(never)
public func lanesMaximum(_ x: UnsafePointer<Float>, _ count: Int) -> Float {
    var best = x[0]
    var j = 0
    if count >= 2 * laneCount {
        let raw = UnsafeRawPointer(x)
        var lanes = raw.loadUnaligned(as: FloatLanes.self)
        j = laneCount
        while j + laneCount <= count {
            let v = raw.loadUnaligned(fromByteOffset: j * 4, as: FloatLanes.self)
            lanes.replace(with: v, where: v .> lanes)
            j += laneCount
        }
        best = horizontalMaximum(lanes)
    }
    while j < count {
        if x[j] > best { best = x[j] }
        j += 1
    }
    return best
}

@inline(never)
public func lanesDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ count: Int) -> Float {
    var lanes0 = FloatLanes(repeating: 0), lanes1 = FloatLanes(repeating: 0)
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    var j = 0
    while j + 2 * laneCount <= count {
        lanes0 += ra.loadUnaligned(fromByteOffset: j * 4, as: FloatLanes.self) * rb.loadUnaligned(fromByteOffset: j * 4, as: FloatLanes.self)
        lanes1 += ra.loadUnaligned(fromByteOffset: j * 4 + laneBytes, as: FloatLanes.self) * rb.loadUnaligned(fromByteOffset: j * 4 + laneBytes, as: FloatLanes.self)
        j += 2 * laneCount
    }
    var sum = horizontalSum(lanes0 + lanes1)
    while j < count {
        sum += a[j] * b[j]
        j += 1
    }
    return sum
}

@inline(never)
public func lanesSiluProductBackward(_ dGate: UnsafeMutablePointer<Float>, _ dUp: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, _ count: Int) {
    var j = 0
    let g = UnsafeRawPointer(gate), u = UnsafeRawPointer(up), d = UnsafeRawPointer(dy)
    let dg = UnsafeMutableRawPointer(dGate), du = UnsafeMutableRawPointer(dUp)
    while j + laneCount <= count {
        let x = g.loadUnaligned(fromByteOffset: j * 4, as: FloatLanes.self)
        let y = u.loadUnaligned(fromByteOffset: j * 4, as: FloatLanes.self)
        let upstream = d.loadUnaligned(fromByteOffset: j * 4, as: FloatLanes.self)
        let sigmoid = 1 / (1 + exp2Lanes(negativeLog2e(x)))
        du.storeBytes(of: upstream * x * sigmoid, toByteOffset: j * 4, as: FloatLanes.self)
        dg.storeBytes(of: upstream * y * sigmoid * (1 + x * (1 - sigmoid)), toByteOffset: j * 4, as: FloatLanes.self)
        j += laneCount
    }
    while j < count {
        var lane = FloatLanes(repeating: 0)
        lane[0] = gate[j]
        let sigmoid = 1 / (1 + exp2Lanes(negativeLog2e(lane))[0])
        dUp[j] = dy[j] * gate[j] * sigmoid
        dGate[j] = dy[j] * up[j] * sigmoid * (1 + gate[j] * (1 - sigmoid))
        j += 1
    }
}

/// The bf16 bits of x (in the low 16 bits) rounded to nearest even, a NaN kept a quiet NaN: Kernels'
/// bfloat16Bits, here for the converters' tails and the bf16 attention's packing (FlashAttentionBF16.swift).
@inline(__always)
func bf16Bits(_ x: Float) -> UInt32 {
    let bits = x.bitPattern
    if x.isNaN { return (bits >> 16) | 0x0040 }
    return (bits &+ 0x7FFF &+ ((bits >> 16) & 1)) >> 16
}

/// destination[i] = the bf16 bits of source[i], rounded to nearest even, NaN kept a (quiet) NaN: the same
/// bits as Kernels' bfloat16Bits. The bf16 matmuls convert every operand with it (BF16Matmul.swift).
@inline(never)
public func lanesConvertToBFloat16(_ destination: UnsafeMutablePointer<UInt16>, _ source: UnsafePointer<Float>, _ count: Int) {
    let raw = UnsafeRawPointer(source), out = UnsafeMutableRawPointer(destination)
    let one = UInt32Lanes(repeating: 1), half = UInt32Lanes(repeating: 0x7FFF), quiet = UInt32Lanes(repeating: 0x0040)
    var i = 0
    while i + laneCount <= count {
        let x = raw.loadUnaligned(fromByteOffset: i &* 4, as: FloatLanes.self)
        let bits = unsafeBitCast(x, to: UInt32Lanes.self)
        var rounded = (bits &+ half &+ ((bits &>> 16) & one)) &>> 16
        let nan = x .!= x
        if any(nan) { rounded.replace(with: (bits &>> 16) | quiet, where: nan) }
        out.storeBytes(of: UInt16Lanes(truncatingIfNeeded: rounded), toByteOffset: i &* 2, as: UInt16Lanes.self)
        i &+= laneCount
    }
    while i < count {
        destination[i] = UInt16(truncatingIfNeeded: bf16Bits(source[i]))
        i &+= 1
    }
}

/// destination[i] = source[i] rounded to bf16 and kept as fp32 (the emulated bf16 engine's operands);
/// in place allowed.
@inline(never)
public func lanesRoundToBFloat16(_ destination: UnsafeMutablePointer<Float>, _ source: UnsafePointer<Float>, _ count: Int) {
    let raw = UnsafeRawPointer(source), out = UnsafeMutableRawPointer(destination)
    let one = UInt32Lanes(repeating: 1), half = UInt32Lanes(repeating: 0x7FFF)
    let upper = UInt32Lanes(repeating: 0xFFFF_0000), quiet = UInt32Lanes(repeating: 0x0040_0000)
    var i = 0
    while i + laneCount <= count {
        let x = raw.loadUnaligned(fromByteOffset: i &* 4, as: FloatLanes.self)
        let bits = unsafeBitCast(x, to: UInt32Lanes.self)
        var rounded = (bits &+ half &+ ((bits &>> 16) & one)) & upper
        let nan = x .!= x
        if any(nan) { rounded.replace(with: (bits & upper) | quiet, where: nan) }
        out.storeBytes(of: unsafeBitCast(rounded, to: FloatLanes.self), toByteOffset: i &* 4, as: FloatLanes.self)
        i &+= laneCount
    }
    while i < count {
        destination[i] = Float(bitPattern: bf16Bits(source[i]) << 16)
        i &+= 1
    }
}

/// The loop of the multiply-add issue limit (MultiplyAddPeak.swift): `rounds` rounds of twelve independent
/// chains c = c * multiplier + addend on FloatLanes, registers only (twelve cover a 4-5 cycle FMA latency on
/// two FMA units), chain i starting at i in every lane. Returns the sum of every lane of every chain;
/// each round is 12 fused multiply-adds, 24 * laneCount FLOPs.
@inline(never)
public func lanesMultiplyAddChains(_ rounds: Int, _ multiplier: Float, _ addend: Float) -> Float {
    let m = FloatLanes(repeating: multiplier), a = FloatLanes(repeating: addend)
    var c0 = FloatLanes(repeating: 0), c1 = FloatLanes(repeating: 1), c2 = FloatLanes(repeating: 2), c3 = FloatLanes(repeating: 3)
    var c4 = FloatLanes(repeating: 4), c5 = FloatLanes(repeating: 5), c6 = FloatLanes(repeating: 6), c7 = FloatLanes(repeating: 7)
    var c8 = FloatLanes(repeating: 8), c9 = FloatLanes(repeating: 9), c10 = FloatLanes(repeating: 10), c11 = FloatLanes(repeating: 11)
    var remaining = rounds
    while remaining > 0 {
        c0 = a.addingProduct(c0, m); c1 = a.addingProduct(c1, m); c2 = a.addingProduct(c2, m); c3 = a.addingProduct(c3, m)
        c4 = a.addingProduct(c4, m); c5 = a.addingProduct(c5, m); c6 = a.addingProduct(c6, m); c7 = a.addingProduct(c7, m)
        c8 = a.addingProduct(c8, m); c9 = a.addingProduct(c9, m); c10 = a.addingProduct(c10, m); c11 = a.addingProduct(c11, m)
        remaining &-= 1
    }
    let sum = ((c0 + c1) + (c2 + c3)) + ((c4 + c5) + (c6 + c7)) + ((c8 + c9) + (c10 + c11))
    return horizontalSum(sum)
}
