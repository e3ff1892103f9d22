// PrecisionChoice: what `--precision auto|fp32|bf16` resolves to on this CPU (BF16Matmul.swift), and
// the process-wide setting models take their precision from when they are made (KernelPrecision).
//
//   fp32  every product in fp32 (the bit-reproducible mode: --resume, golden tests).
//   bf16  the linear layers' products on bf16 operands with fp32 accumulation: oneDNN's bf16 product
//         when it runs and passes its self-check here, else emulated on the fp32 gemm (same numbers,
//         not faster), said in the line.
//   auto  bf16 when the CPU has bf16 matmul instructions (avx512_bf16 or amx_bf16 in /proc/cpuinfo),
//         oneDNN's bf16 product passes its self-check, and it measures faster than the fp32 product on
//         a model-sized shape in this process; fp32 otherwise. The line says which and why.
import Foundation

public struct PrecisionChoice: Sendable {
    public let precision: MatmulPrecision
    /// The bf16 engine when precision == .bf16.
    public let matmul: BF16Matmul?
    /// One line: what runs and why.
    public let description: String

    /// What oneDNN's bf16 product is on this machine (checked once per process).
    public enum Native: Sendable {
        case available(OneDNN.Library)
        case unavailable(String)
    }

    /// The CPU flags that mean bf16 matmul instructions.
    public static let instructionFlags = ["avx512_bf16", "amx_bf16"]

    public static var cpuHasBF16Instructions: Bool { hasBF16Instructions(flags: BLASBackend.cpu.flags) }

    public static func hasBF16Instructions(flags: Set<String>) -> Bool {
        instructionFlags.contains(where: flags.contains)
    }

    /// oneDNN's bf16 product, self-checked once per process.
    public static let native: Native = checkNative()

    /// bf16 speed over fp32 of one model-sized product, measured once per process when auto needs it.
    public static let measuredSpeedup: Double? = {
        guard case .available(let library) = native else { return nil }
        return measureSpeedup(library)
    }()

    /// The choice for `request` on this machine.
    public static func choose(_ request: PrecisionRequest) -> PrecisionChoice {
        choose(request, cpuHasInstructions: cpuHasBF16Instructions, native: native, speedup: { measuredSpeedup })
    }

    /// The choice from the facts (separated for tests): the CPU's flags, oneDNN's check, the measured speed-up.
    /// `native` is evaluated only when the request needs it (fp32, and auto on a CPU without the
    /// instructions, never call oneDNN's bf16 product).
    public static func choose(_ request: PrecisionRequest, cpuHasInstructions: Bool, native nativeCheck: @autoclosure () -> Native,
                              speedup: () -> Double?) -> PrecisionChoice {
        let flagsText = instructionFlags.joined(separator: " / ")
        switch request {
        case .fp32:
            return PrecisionChoice(precision: .fp32, matmul: nil, description: "fp32 (--precision fp32)")
        case .bf16:
            let native = nativeCheck()
            if case .available(let library) = native {
                let emulatedByOneDNN = cpuHasInstructions ? "" : "; this CPU has no bf16 instructions, so oneDNN emulates them (likely slower than fp32)"
                return PrecisionChoice(precision: .bf16, matmul: BF16Matmul(engine: .oneDNN(library)),
                                       description: "bf16 operands, fp32 accumulation: \(nativeName(library)), self-check passed\(emulatedByOneDNN) (--precision bf16)")
            }
            let why: String
            if case .unavailable(let reason) = native { why = reason } else { why = "" }
            return PrecisionChoice(precision: .bf16, matmul: BF16Matmul(engine: .emulated),
                                   description: "bf16 operands, fp32 accumulation, EMULATED on the fp32 product (\(why)): bf16 numbers, not bf16 speed (--precision bf16)")
        case .auto:
            guard cpuHasInstructions else {
                return PrecisionChoice(precision: .fp32, matmul: nil, description: "fp32 (auto: this CPU has no bf16 matmul instructions, \(flagsText))")
            }
            let native = nativeCheck()
            guard case .available(let library) = native else {
                var why = ""
                if case .unavailable(let reason) = native { why = reason }
                return PrecisionChoice(precision: .fp32, matmul: nil, description: "fp32 (auto: the CPU has bf16 instructions but \(why))")
            }
            guard let ratio = speedup() else {
                return PrecisionChoice(precision: .fp32, matmul: nil, description: "fp32 (auto: the bf16 product could not be timed)")
            }
            let measured = String(format: "%.2fx the fp32 product on a 2048x512x128 product here", ratio)
            guard ratio >= 1.2 else {
                return PrecisionChoice(precision: .fp32, matmul: nil, description: "fp32 (auto: \(nativeName(library)) runs \(measured); --precision bf16 forces it)")
            }
            return PrecisionChoice(precision: .bf16, matmul: BF16Matmul(engine: .oneDNN(library)),
                                   description: "bf16 operands, fp32 accumulation: \(nativeName(library)), self-check passed, \(measured) (auto; --precision fp32 for the reproducible mode)")
        }
    }

    static func nativeName(_ library: OneDNN.Library) -> String {
        "\(library.name) dnnl_gemm_bf16bf16f32 (\(library.instructionSet) kernels)"
    }

    static func checkNative() -> Native {
        guard let library = OneDNN.library else {
            if case .unavailable(let why) = OneDNN.availability { return .unavailable("oneDNN is unavailable: \(why)") }
            return .unavailable("oneDNN is unavailable")
        }
        guard library.gemmBF16 != nil else { return .unavailable("\(library.name) has no dnnl_gemm_bf16bf16f32") }
        switch selfCheck(BF16Matmul(engine: .oneDNN(library)), refusalCheck: library) {
        case .refused: return .unavailable("\(library.name) refuses bf16 products on this CPU (\(library.instructionSet) kernels)")
        case .wrong: return .unavailable("\(library.name)'s bf16 product FAILED the self-check against a Double reference")
        case .passed: return .available(library)
        }
    }

    public enum CheckOutcome: Sendable { case passed, refused, wrong }

    /// The engine on a few awkward shapes (both transposes, odd sizes) against a Double reference of the
    /// bf16-rounded operands; a native engine is first asked directly, so a refusal is told apart.
    public static func selfCheck(_ engine: BF16Matmul, refusalCheck library: OneDNN.Library? = nil) -> CheckOutcome {
        var generator = SplitMix64(seed: 20_261_130)
        let bytes = engine.elementBytes
        // Shapes as the linear layers use them: both transposes, odd sizes, a leading dimension wider than
        // the operand (the weight gradient's column blocks), beta 0 on a C full of NaN (uninitialised
        // outputs), 0.5 and 1 (accumulated gradients).
        let cases: [(m: Int, n: Int, k: Int, transposeA: Bool, transposeB: Bool, padA: Int, beta: Float)] = [
            (67, 45, 131, false, false, 0, 0), (33, 129, 70, false, true, 0, 0.5), (40, 96, 256, true, false, 24, 1), (5, 1, 17, true, true, 3, 0)]
        for (m, n, k, transposeA, transposeB, padA, beta) in cases {
            let lda = (transposeA ? m : k) + padA, ldb = transposeB ? k : n
            let a = (0..<((transposeA ? k : m) * lda)).map { _ in Float(generator.nextUnit() * 2 - 1) }
            let b = (0..<(k * n)).map { _ in Float(generator.nextUnit() * 2 - 1) }
            let start = (0..<(m * n)).map { _ in beta == 0 ? Float.nan : Float(generator.nextUnit() * 2 - 1) }
            var c = start
            let a16 = UnsafeMutableRawPointer.allocate(byteCount: a.count * bytes, alignment: 64)
            let b16 = UnsafeMutableRawPointer.allocate(byteCount: b.count * bytes, alignment: 64)
            defer { a16.deallocate(); b16.deallocate() }
            a.withUnsafeBufferPointer { engine.convert($0.baseAddress!, count: a.count, into: a16) }
            b.withUnsafeBufferPointer { engine.convert($0.baseAddress!, count: b.count, into: b16) }
            var refused = false
            c.withUnsafeMutableBufferPointer { c in
                if let library {
                    refused = !OneDNN.gemmBF16(library, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1,
                                               a: a16.assumingMemoryBound(to: UInt16.self), lda: lda,
                                               b: b16.assumingMemoryBound(to: UInt16.self), ldb: ldb, beta: beta, c: c.baseAddress!, ldc: n)
                } else {
                    engine.gemm(transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: 1, a: a16, lda: lda, b: b16, ldb: ldb,
                                beta: beta, c: c.baseAddress!, ldc: n)
                }
            }
            if refused { return .refused }
            for i in 0..<m {
                for j in 0..<n {
                    let initial = beta == 0 ? 0 : Double(beta) * Double(start[i * n + j])
                    var sum = initial, magnitude = abs(initial)
                    for p in 0..<k {
                        let x = Double(roundedToBFloat16(transposeA ? a[p * lda + i] : a[i * lda + p]))
                        let y = Double(roundedToBFloat16(transposeB ? b[j * ldb + p] : b[p * ldb + j]))
                        sum += x * y
                        magnitude += abs(x * y)
                    }
                    if !(abs(Double(c[i * n + j]) - sum) <= 1e-5 * magnitude + 1e-6) { return .wrong }
                }
            }
        }
        return .passed
    }

    /// Best of 4 timings of one 2048x512x128 product (operand conversion included) in bf16 over fp32, one thread.
    static func measureSpeedup(_ library: OneDNN.Library) -> Double? {
        let m = 2048, n = 512, k = 128
        var generator = SplitMix64(seed: 7)
        let a = (0..<(m * k)).map { _ in Float(generator.nextUnit() * 2 - 1) }
        let b = (0..<(n * k)).map { _ in Float(generator.nextUnit() * 2 - 1) }
        var c = [Float](repeating: 0, count: m * n)
        let engine = BF16Matmul(engine: .oneDNN(library))
        let a16 = UnsafeMutableRawPointer.allocate(byteCount: a.count * 2, alignment: 64)
        let b16 = UnsafeMutableRawPointer.allocate(byteCount: b.count * 2, alignment: 64)
        defer { a16.deallocate(); b16.deallocate() }
        func best(_ body: () -> Void) -> Double {
            var fastest = Double.infinity
            for _ in 0..<4 {
                let start = DispatchTime.now().uptimeNanoseconds
                body()
                fastest = min(fastest, Double(DispatchTime.now().uptimeNanoseconds - start))
            }
            return fastest
        }
        let bf16 = a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    best {
                        // Converted on this thread, as the products run here: one thread against one thread.
                        convertToBFloat16(a16.assumingMemoryBound(to: UInt16.self), a.baseAddress!, count: a.count)
                        convertToBFloat16(b16.assumingMemoryBound(to: UInt16.self), b.baseAddress!, count: b.count)
                        engine.gemm(transposeA: false, transposeB: true, m: m, n: n, k: k, alpha: 1, a: a16, lda: k, b: b16, ldb: k,
                                    beta: 0, c: c.baseAddress!, ldc: n)
                    }
                }
            }
        }
        let fp32 = a.withUnsafeBufferPointer { a in
            b.withUnsafeBufferPointer { b in
                c.withUnsafeMutableBufferPointer { c in
                    best {
                        Float.gemm(transposeA: false, transposeB: true, m: m, n: n, k: k, alpha: 1, a: a.baseAddress!, lda: k,
                                   b: b.baseAddress!, ldb: k, beta: 0, c: c.baseAddress!, ldc: n)
                    }
                }
            }
        }
        guard bf16 > 0, bf16.isFinite, fp32.isFinite else { return nil }
        return fp32 / bf16
    }
}

/// The precision models take when they are made (ReasoningModel reads `matmul` at init): set once by
/// a command from its --precision option, like KernelThreads.
public enum KernelPrecision {
    /// The bf16 engine, or nil for fp32 (the default).
    nonisolated(unsafe) public static var matmul: BF16Matmul?

    /// Applies a choice and returns its line for the log.
    @discardableResult
    public static func configure(_ choice: PrecisionChoice) -> String {
        matmul = choice.matmul
        return "matmul precision: \(choice.description)"
    }
}
