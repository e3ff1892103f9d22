// Scalar: the element types the kernels run in. Float is production (docs/SPEC.md §4: fp32 on CPU);
// Double runs the same generic kernels for finite-difference gradient tests. Each scalar brings its
// gemm (Float: oneDNN or OpenBLAS sgemm, see BLASBackend; Double: OpenBLAS dgemm) and the
// elementary functions the kernels need.
import CBLAS
import KernelsAVX2
import KernelsAVX512
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public protocol KernelScalar: BinaryFloatingPoint, Sendable {
    /// C = alpha * op(A) * op(B) + beta * C, row-major, op = transpose when the flag is set.
    static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Self, a: UnsafePointer<Self>, lda: Int, b: UnsafePointer<Self>, ldb: Int,
        beta: Self, c: UnsafeMutablePointer<Self>, ldc: Int)
    static func exponential(_ x: Self) -> Self
    static func logarithm(_ x: Self) -> Self
    static func cosine(_ x: Self) -> Self
    static func sine(_ x: Self) -> Self
    /// x[j] = exp(x[j] - shift) for j < count; returns the sum (softmax inner loop).
    static func exponentialShiftedInPlace(_ x: UnsafeMutablePointer<Self>, count: Int, shift: Self) -> Self
    /// out[j] = silu(gate[j]) * up[j] = gate / (1 + exp(-gate)) * up for j < count.
    static func siluProductInPlace(_ out: UnsafeMutablePointer<Self>, _ gate: UnsafePointer<Self>, _ up: UnsafePointer<Self>, count: Int)
    /// dGate[j], dUp[j] from dy[j] for out = silu(gate) * up.
    static func siluProductBackward(_ dGate: UnsafeMutablePointer<Self>, _ dUp: UnsafeMutablePointer<Self>, _ dy: UnsafePointer<Self>, _ gate: UnsafePointer<Self>, _ up: UnsafePointer<Self>, count: Int)
    /// max of x[0..<count] (count >= 1).
    static func maximum(_ x: UnsafePointer<Self>, count: Int) -> Self
    /// sum of a[j] * b[j].
    static func dot(_ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, count: Int) -> Self
}

extension KernelScalar {
    @inlinable public static func siluProductBackward(_ dGate: UnsafeMutablePointer<Self>, _ dUp: UnsafeMutablePointer<Self>, _ dy: UnsafePointer<Self>, _ gate: UnsafePointer<Self>, _ up: UnsafePointer<Self>, count: Int) {
        for j in 0..<count {
            let g = gate[j]
            let sigmoid = 1 / (1 + exponential(-g))
            dUp[j] = dy[j] * g * sigmoid
            dGate[j] = dy[j] * up[j] * sigmoid * (1 + g * (1 - sigmoid))
        }
    }
    @inlinable public static func maximum(_ x: UnsafePointer<Self>, count: Int) -> Self {
        var best = x[0]
        for j in 1..<max(1, count) where x[j] > best { best = x[j] }
        return best
    }
    @inlinable public static func dot(_ a: UnsafePointer<Self>, _ b: UnsafePointer<Self>, count: Int) -> Self {
        var sum: Self = 0
        for j in 0..<count { sum += a[j] * b[j] }
        return sum
    }
    @inlinable public static func siluProductInPlace(_ out: UnsafeMutablePointer<Self>, _ gate: UnsafePointer<Self>, _ up: UnsafePointer<Self>, count: Int) {
        for j in 0..<count {
            let g = gate[j]
            out[j] = g / (1 + exponential(-g)) * up[j]
        }
    }
}

extension Float: KernelScalar {
    @inlinable public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Float, a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        // oneDNN when BLASBackend chose it (ARC_BLAS, OneDNN.swift); OpenBLAS otherwise or if it refuses.
        if k > 0, let library = BLASBackend.oneDNN,
           OneDNN.sgemm(library, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k,
                        alpha: alpha, a: a, lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc) {
            return
        }
        cblas_sgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    @inlinable public static func exponential(_ x: Float) -> Float { expf(x) }
    @inlinable public static func logarithm(_ x: Float) -> Float { logf(x) }
    @inlinable public static func cosine(_ x: Float) -> Float { cosf(x) }
    @inlinable public static func sine(_ x: Float) -> Float { sinf(x) }
    // The inner loops dispatch to the AVX-512 build (module KernelsAVX512, 16 lanes) or the AVX2 + FMA
    // build (KernelsAVX2, 8 lanes) of VectorMath.swift, whichever is the widest the CPU has.
    @inlinable public static func exponentialShiftedInPlace(_ x: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Float {
        if KernelsCPU.hasAVX512 { return KernelsAVX512.lanesExponentialShiftedInPlace(x, count, shift) }
        return KernelsCPU.hasAVX2FMA ? KernelsAVX2.lanesExponentialShiftedInPlace(x, count, shift) : simdExponentialShiftedInPlace(x, count: count, shift: shift)
    }
    @inlinable public static func maximum(_ x: UnsafePointer<Float>, count: Int) -> Float {
        if KernelsCPU.hasAVX512 { return KernelsAVX512.lanesMaximum(x, count) }
        return KernelsCPU.hasAVX2FMA ? KernelsAVX2.lanesMaximum(x, count) : simdMaximum(x, count: count)
    }
    @inlinable public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
        if KernelsCPU.hasAVX512 { return KernelsAVX512.lanesDot(a, b, count) }
        return KernelsCPU.hasAVX2FMA ? KernelsAVX2.lanesDot(a, b, count) : simdDot(a, b, count: count)
    }
    @inlinable public static func siluProductInPlace(_ out: UnsafeMutablePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
        if KernelsCPU.hasAVX512 { KernelsAVX512.lanesSiluProduct(out, gate, up, count) }
        else if KernelsCPU.hasAVX2FMA { KernelsAVX2.lanesSiluProduct(out, gate, up, count) } else { simdSiluProduct(out, gate, up, count: count) }
    }
    @inlinable public static func siluProductBackward(_ dGate: UnsafeMutablePointer<Float>, _ dUp: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
        if KernelsCPU.hasAVX512 { KernelsAVX512.lanesSiluProductBackward(dGate, dUp, dy, gate, up, count) }
        else if KernelsCPU.hasAVX2FMA { KernelsAVX2.lanesSiluProductBackward(dGate, dUp, dy, gate, up, count) }
        else { simdSiluProductBackward(dGate, dUp, dy, gate, up, count: count) }
    }
}

// Portable SIMD8 versions (baseline x86-64, any CPU); their AVX2 / AVX-512 twins live in VectorMath.swift.

@inlinable public func simdExponentialShiftedInPlace(_ x: UnsafeMutablePointer<Float>, count: Int, shift: Float) -> Float {
    var sum = SIMD8<Float>(repeating: 0)
    let shiftVector = SIMD8<Float>(repeating: shift)
    var j = 0
    let raw = UnsafeMutableRawPointer(x)
    while j + 8 <= count {
        let value = fastExponential(raw.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) - shiftVector)
        raw.storeBytes(of: value, toByteOffset: j * 4, as: SIMD8<Float>.self)
        sum += value
        j += 8
    }
    var total = sum.sum()
    while j < count {
        let value = expf(x[j] - shift)
        x[j] = value
        total += value
        j += 1
    }
    return total
}

@inlinable public func simdMaximum(_ x: UnsafePointer<Float>, count: Int) -> Float {
    var j = 0
    var best = x[0]
    if count >= 16 {
        let raw = UnsafeRawPointer(x)
        var lanes = raw.loadUnaligned(as: SIMD8<Float>.self)
        j = 8
        while j + 8 <= count {
            let v = raw.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
            lanes.replace(with: v, where: v .> lanes)
            j += 8
        }
        best = lanes.max()
    }
    while j < count {
        if x[j] > best { best = x[j] }
        j += 1
    }
    return best
}

@inlinable public func simdDot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, count: Int) -> Float {
    var j = 0
    var lanes0 = SIMD8<Float>(repeating: 0), lanes1 = SIMD8<Float>(repeating: 0)
    let ra = UnsafeRawPointer(a), rb = UnsafeRawPointer(b)
    while j + 16 <= count {
        lanes0 += ra.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self) * rb.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
        lanes1 += ra.loadUnaligned(fromByteOffset: j * 4 + 32, as: SIMD8<Float>.self) * rb.loadUnaligned(fromByteOffset: j * 4 + 32, as: SIMD8<Float>.self)
        j += 16
    }
    var sum = (lanes0 + lanes1).sum()
    while j < count {
        sum += a[j] * b[j]
        j += 1
    }
    return sum
}

@inlinable public func simdSiluProduct(_ out: UnsafeMutablePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
    var j = 0
    let g = UnsafeRawPointer(gate), u = UnsafeRawPointer(up), o = UnsafeMutableRawPointer(out)
    while j + 8 <= count {
        let x = g.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
        let y = u.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
        o.storeBytes(of: x / (1 + fastExponential(-x)) * y, toByteOffset: j * 4, as: SIMD8<Float>.self)
        j += 8
    }
    while j < count {
        out[j] = gate[j] / (1 + expf(-gate[j])) * up[j]
        j += 1
    }
}

@inlinable public func simdSiluProductBackward(_ dGate: UnsafeMutablePointer<Float>, _ dUp: UnsafeMutablePointer<Float>, _ dy: UnsafePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, count: Int) {
    var j = 0
    let g = UnsafeRawPointer(gate), u = UnsafeRawPointer(up), d = UnsafeRawPointer(dy)
    let dg = UnsafeMutableRawPointer(dGate), du = UnsafeMutableRawPointer(dUp)
    while j + 8 <= count {
        let x = g.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
        let y = u.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
        let upstream = d.loadUnaligned(fromByteOffset: j * 4, as: SIMD8<Float>.self)
        let sigmoid = 1 / (1 + fastExponential(-x))
        du.storeBytes(of: upstream * x * sigmoid, toByteOffset: j * 4, as: SIMD8<Float>.self)
        dg.storeBytes(of: upstream * y * sigmoid * (1 + x * (1 - sigmoid)), toByteOffset: j * 4, as: SIMD8<Float>.self)
        j += 8
    }
    while j < count {
        let x = gate[j]
        let sigmoid = 1 / (1 + expf(-x))
        dUp[j] = dy[j] * x * sigmoid
        dGate[j] = dy[j] * up[j] * sigmoid * (1 + x * (1 - sigmoid))
        j += 1
    }
}

/// Vectorised expf (Cephes polynomial, about 1-2 ulp on the softmax range), for 8 lanes. Rounding and
/// the 2^n scale use the 1.5*2^23 magic-number trick: only plain float and integer lane arithmetic.
@inlinable @inline(__always)
public func fastExponential(_ input: SIMD8<Float>) -> SIMD8<Float> {
    let magic = SIMD8<Float>(repeating: 12582912)  // 1.5 * 2^23
    let low = SIMD8<Float>(repeating: -87.3), high = SIMD8<Float>(repeating: 88.3)
    var x = input.replacing(with: low, where: input .< low)
    x.replace(with: high, where: x .> high)
    let shifted = x * 1.44269504088896341 + magic
    let fx = shifted - magic  // round(x / ln 2)
    x = x - fx * 0.693359375 + fx * 2.12194440e-4
    let z = x * x
    var y = SIMD8<Float>(repeating: 1.9875691500e-4)
    y = y * x + 1.3981999507e-3
    y = y * x + 8.3334519073e-3
    y = y * x + 4.1665795894e-2
    y = y * x + 1.6666665459e-1
    y = y * x + 5.0000001201e-1
    y = y * z + x + 1
    let integer = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
    let scale = unsafeBitCast((integer &+ 127) &<< 23, to: SIMD8<Float>.self)
    return y * scale
}

extension Double: KernelScalar {
    @inlinable public static func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int,
        alpha: Double, a: UnsafePointer<Double>, lda: Int, b: UnsafePointer<Double>, ldb: Int,
        beta: Double, c: UnsafeMutablePointer<Double>, ldc: Int
    ) {
        cblas_dgemm(
            CblasRowMajor, transposeA ? CblasTrans : CblasNoTrans, transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }
    @inlinable public static func exponential(_ x: Double) -> Double { exp(x) }
    @inlinable public static func logarithm(_ x: Double) -> Double { log(x) }
    @inlinable public static func cosine(_ x: Double) -> Double { cos(x) }
    @inlinable public static func sine(_ x: Double) -> Double { sin(x) }
    @inlinable public static func exponentialShiftedInPlace(
        _ x: UnsafeMutablePointer<Double>, count: Int, shift: Double
    ) -> Double {
        var sum = 0.0
        for j in 0..<count {
            let value = exp(x[j] - shift)
            x[j] = value
            sum += value
        }
        return sum
    }
}
