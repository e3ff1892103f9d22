// BF16Matmul: bf16 matmuls with fp32 accumulation for the model's linear layers, and the choice of
// precision (`--precision auto|fp32|bf16`).
//
// The reference trains in bf16 on GPUs (docs/SPEC.md §4: forward_dtype bfloat16). Here only the
// products' inputs are bf16: weights, activations and gradients are kept in fp32 (fp32 master
// weights, optimizer state, norms, softmax, losses), each operand is rounded to bf16 (nearest even)
// as it enters a product, and the products accumulate in fp32. Two engines compute the same numbers
// (a product of two bf16 values is exact in fp32; they differ only in summation order):
//   - oneDNN's dnnl_gemm_bf16bf16f32, on CPUs with AVX512_BF16 or AMX-BF16 instructions, used only
//     after it passed a self-check against a Double reference in this process;
//   - emulated: the rounded operands kept as fp32 and multiplied by the fp32 gemm (any CPU; not
//     faster than fp32, for checking bf16 numerics where the hardware has none).
// `auto` picks bf16 only when the CPU has the instructions, oneDNN's bf16 product passes its check,
// and it measures faster than the fp32 product on a model-sized shape in this process; otherwise fp32,
// with the reason in the summary line the commands print.
import Foundation

/// The precision of the linear layers' products.
public enum MatmulPrecision: String, Sendable, CaseIterable {
    case fp32, bf16
}

/// What a user asks for with --precision.
public enum PrecisionRequest: String, Sendable, CaseIterable {
    case auto, fp32, bf16

    /// The --precision help every command shows.
    public static let help = "Precision of the linear layers' matmuls: auto (bf16 where the CPU has bf16 matmul instructions and they "
        + "measure faster, else fp32), fp32 (bit-reproducible reruns), bf16 (bf16 operands, fp32 accumulation; emulated, not faster, "
        + "on a CPU without them)."
}

/// A bf16 product engine: where the rounded operands live and which gemm multiplies them.
public struct BF16Matmul: Sendable {
    public enum Engine: Sendable {
        /// oneDNN's dnnl_gemm_bf16bf16f32 on bf16 operands (UInt16 bits).
        case oneDNN(OneDNN.Library)
        /// The fp32 gemm on operands rounded to bf16 and kept as fp32.
        case emulated
    }

    public let engine: Engine

    public init(engine: Engine) { self.engine = engine }

    /// Bytes of one converted element.
    @inlinable public var elementBytes: Int {
        if case .oneDNN = engine { return 2 }
        return 4
    }

    public var isNative: Bool { elementBytes == 2 }

    /// Converts count fp32 values into destination (this engine's operand format), in parallel.
    @inlinable
    public func convert(_ source: UnsafePointer<Float>, count: Int, into destination: UnsafeMutableRawPointer) {
        let native = isNative
        let s = SendablePointer(UnsafeMutablePointer(mutating: source))
        let d = SendablePointer(destination.assumingMemoryBound(to: UInt8.self))
        parallelChunks(count, costPerItem: 1) { range in
            if native {
                let out = UnsafeMutableRawPointer(d.pointer).assumingMemoryBound(to: UInt16.self)
                convertToBFloat16(out + range.lowerBound, s.pointer + range.lowerBound, count: range.count)
            } else {
                let out = UnsafeMutableRawPointer(d.pointer).assumingMemoryBound(to: Float.self)
                roundToBFloat16(out + range.lowerBound, s.pointer + range.lowerBound, count: range.count)
            }
        }
    }

    /// C = alpha op(A) op(B) + beta C on converted operands (row-major, leading dimensions in elements),
    /// on the calling thread.
    @inlinable
    public func gemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafeRawPointer, lda: Int, b: UnsafeRawPointer, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        switch engine {
        case .emulated:
            Float.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                       a: a.assumingMemoryBound(to: Float.self), lda: lda, b: b.assumingMemoryBound(to: Float.self), ldb: ldb,
                       beta: beta, c: c, ldc: ldc)
        case .oneDNN(let library):
            let a16 = a.assumingMemoryBound(to: UInt16.self), b16 = b.assumingMemoryBound(to: UInt16.self)
            if k == 0 || !OneDNN.gemmBF16(library, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                          a: a16, lda: lda, b: b16, ldb: ldb, beta: beta, c: c, ldc: ldc) {
                // k == 0, or oneDNN refused a call after passing its check: the same product, plainly.
                if k > 0 { BF16Matmul.warnFallbackOnce(m: m, n: n, k: k) }
                BF16Matmul.plainGemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                     a: a16, lda: lda, b: b16, ldb: ldb, beta: beta, c: c, ldc: ldc)
            }
        }
    }

    nonisolated(unsafe) static var warned = false
    /// One line on stderr the first time oneDNN refuses a product it ran in its self-check.
    public static func warnFallbackOnce(m: Int, n: Int, k: Int) {
        guard !warned else { return }
        warned = true
        FileHandle.standardError.write(Data("warning: oneDNN refused a bf16 product (\(m)x\(n)x\(k)) after passing its self-check; such products run in plain loops (slow): --precision fp32 avoids them\n".utf8))
    }

    /// C = alpha op(A) op(B) + beta C on bf16 operands with fp32 loops (the fallback and the reference).
    public static func plainGemm(
        transposeA: Bool, transposeB: Bool, m: Int, n: Int, k: Int, alpha: Float,
        a: UnsafePointer<UInt16>, lda: Int, b: UnsafePointer<UInt16>, ldb: Int, beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        for i in 0..<m {
            for j in 0..<n {
                var sum: Float = 0
                for p in 0..<k {
                    let x = bfloat16Value(transposeA ? a[p * lda + i] : a[i * lda + p])
                    let y = bfloat16Value(transposeB ? b[j * ldb + p] : b[p * ldb + j])
                    sum += x * y
                }
                c[i * ldc + j] = alpha * sum + (beta == 0 ? 0 : beta * c[i * ldc + j])
            }
        }
    }

    /// Row-parallel product (op(A) not transposed): C rows split over the kernel threads when big.
    @inlinable
    public func gemmRows(
        transposeB: Bool, m: Int, n: Int, k: Int, a: UnsafeRawPointer, lda: Int, b: UnsafeRawPointer, ldb: Int,
        beta: Float, c: UnsafeMutablePointer<Float>, ldc: Int
    ) {
        let parts = m * n * k >= 1 << 20 ? KernelThreads.parts : 1
        let bytes = elementBytes
        let pa = SendablePointer(UnsafeMutableRawPointer(mutating: a).assumingMemoryBound(to: UInt8.self))
        let pb = SendablePointer(UnsafeMutableRawPointer(mutating: b).assumingMemoryBound(to: UInt8.self))
        let pc = SendablePointer(c)
        parallelParts(m, parts: parts) { _, rows in
            gemm(transposeA: false, transposeB: transposeB, m: rows.count, n: n, k: k, alpha: 1,
                 a: UnsafeRawPointer(pa.pointer + rows.lowerBound * lda * bytes), lda: lda, b: UnsafeRawPointer(pb.pointer), ldb: ldb,
                 beta: beta, c: pc.pointer + rows.lowerBound * ldc, ldc: ldc)
        }
    }
}

/// Growable operand buffers for the bf16 linear layers (one model's; not shared between threads that
/// run products at the same time). Grows to the largest layer seen, then allocates nothing.
public final class BF16Workspace: @unchecked Sendable {
    private var slots: [(pointer: UnsafeMutableRawPointer, bytes: Int)] = []

    public init() {}

    deinit { for slot in slots { slot.pointer.deallocate() } }

    /// Slot `index`, at least `bytes` long (contents undefined).
    public func buffer(_ index: Int, bytes: Int) -> UnsafeMutableRawPointer {
        while slots.count <= index { slots.append((UnsafeMutableRawPointer.allocate(byteCount: 64, alignment: 64), 64)) }
        if slots[index].bytes < bytes {
            slots[index].pointer.deallocate()
            slots[index] = (UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64), bytes)
        }
        return slots[index].pointer
    }
}

/// out[rows, outF] = bf16(inp) bf16(weight)^T (+ bias), fp32 accumulation (linearForward in bf16).
public func bf16LinearForward(
    _ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ bias: UnsafePointer<Float>?,
    rows: Int, inFeatures: Int, outFeatures: Int, matmul: BF16Matmul, workspace: BF16Workspace
) {
    let bytes = matmul.elementBytes
    let a = workspace.buffer(0, bytes: rows * inFeatures * bytes)
    let b = workspace.buffer(1, bytes: outFeatures * inFeatures * bytes)
    matmul.convert(inp, count: rows * inFeatures, into: a)
    matmul.convert(weight, count: outFeatures * inFeatures, into: b)
    matmul.gemmRows(transposeB: true, m: rows, n: outFeatures, k: inFeatures, a: a, lda: inFeatures, b: b, ldb: inFeatures,
                    beta: 0, c: out, ldc: outFeatures)
    if let bias {
        for row in 0..<rows {
            let line = out + row * outFeatures
            for column in 0..<outFeatures { line[column] += bias[column] }
        }
    }
}

/// linearBackward in bf16: dinp = bf16(dout) bf16(weight) (overwritten, or added when accumulateInput);
/// dweight += bf16(dout)^T bf16(inp); dbias += sum dout (fp32).
public func bf16LinearBackward(
    _ dinp: UnsafeMutablePointer<Float>?, _ dweight: UnsafeMutablePointer<Float>?, _ dbias: UnsafeMutablePointer<Float>?,
    _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>,
    rows: Int, inFeatures: Int, outFeatures: Int, accumulateInput: Bool = false, matmul: BF16Matmul, workspace: BF16Workspace
) {
    let bytes = matmul.elementBytes
    let gradient = workspace.buffer(0, bytes: rows * outFeatures * bytes)
    matmul.convert(dout, count: rows * outFeatures, into: gradient)
    if let dinp {
        let w = workspace.buffer(1, bytes: outFeatures * inFeatures * bytes)
        matmul.convert(weight, count: outFeatures * inFeatures, into: w)
        matmul.gemmRows(transposeB: false, m: rows, n: inFeatures, k: outFeatures, a: gradient, lda: outFeatures, b: w, ldb: inFeatures,
                        beta: accumulateInput ? 1 : 0, c: dinp, ldc: inFeatures)
    }
    if let dweight {
        let x = workspace.buffer(2, bytes: rows * inFeatures * bytes)
        matmul.convert(inp, count: rows * inFeatures, into: x)
        // Split over the output features (rows of dweight) as linearBackward does: no reduction.
        let parts = rows * inFeatures * outFeatures >= 1 << 20 && outFeatures >= 16 * KernelThreads.count ? KernelThreads.count : 1
        let pw = SendablePointer(dweight)
        let pg = SendablePointer(gradient.assumingMemoryBound(to: UInt8.self)), px = SendablePointer(x.assumingMemoryBound(to: UInt8.self))
        parallelParts(outFeatures, parts: parts) { _, features in
            matmul.gemm(transposeA: true, transposeB: false, m: features.count, n: inFeatures, k: rows, alpha: 1,
                        a: UnsafeRawPointer(pg.pointer + features.lowerBound * bytes), lda: outFeatures,
                        b: UnsafeRawPointer(px.pointer), ldb: inFeatures, beta: 1,
                        c: pw.pointer + features.lowerBound * inFeatures, ldc: inFeatures)
        }
    }
    if let dbias {
        for row in 0..<rows {
            let line = dout + row * outFeatures
            for column in 0..<outFeatures { dbias[column] += line[column] }
        }
    }
}
