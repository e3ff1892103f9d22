// The BLAS kernel-set choice: the best OpenBLAS kernel set for a CPU's feature flags, the levels of
// the core names OpenBLAS reports, and the sgemm self-check of the kernel set loaded in this process.
// The fp32 matmul library: oneDNN (Debian's libdnnl2, which .ci/run and scripts/main-job install)
// runs the products unless ARC_BLAS says otherwise, and its products match a Double reference.
import Kernels
import XCTest

final class BLASBackendTests: XCTestCase {
    func testBestKernelSetForFeatureFlags() {
        let sse = Set(["sse", "sse2", "pni"])
        let avx2 = sse.union(["sse4_2", "avx", "avx2", "fma"])
        let avx512 = avx2.union(["avx512f", "avx512bw", "avx512dq", "avx512vl"])
        let cases: [(String, Set<String>, String, String, Int)] = [
            ("Xeon with AVX-512, BF16 and AMX (model hidden)", avx512.union(["avx512_bf16", "amx_bf16", "amx_tile"]), "GenuineIntel", "Cooperlake", 6),
            ("AMD EPYC Zen 4", avx512.union(["avx512_bf16"]), "AuthenticAMD", "Cooperlake", 6),
            ("Skylake-SP", avx512, "GenuineIntel", "SkylakeX", 5),
            ("AVX-512F without BW (Knights Landing)", avx2.union(["avx512f"]), "GenuineIntel", "Haswell", 4),
            ("AMD EPYC Zen 1-3", avx2, "AuthenticAMD", "Zen", 4),
            ("Intel Haswell", avx2, "GenuineIntel", "Haswell", 4),
            ("Sandy Bridge", sse.union(["sse4_2", "avx"]), "GenuineIntel", "Sandybridge", 3),
            ("Nehalem", sse.union(["sse4_2"]), "GenuineIntel", "Nehalem", 2),
            ("SSE3 only", sse, "GenuineIntel", "Prescott", 1),
        ]
        for (name, flags, vendor, expected, level) in cases {
            let best = BLASBackend.bestKernelSet(flags: flags, vendor: vendor)
            XCTAssertEqual(best.name, expected, name)
            XCTAssertEqual(best.level, level, name)
            XCTAssertEqual(BLASBackend.level(ofCore: best.name), level, "\(name): the name maps back to its level")
        }
    }

    func testCoreNameLevels() {
        XCTAssertEqual(BLASBackend.level(ofCore: "Prescott"), 1)
        XCTAssertEqual(BLASBackend.level(ofCore: "ZEN"), 4)
        XCTAssertEqual(BLASBackend.level(ofCore: "SkylakeX"), 5)
        XCTAssertNil(BLASBackend.level(ofCore: "NotACore"))
    }

    func testLoadedKernelsPassTheSelfCheck() {
        XCTAssertTrue(BLASBackend.selfCheck(), "sgemm of kernel set \(BLASBackend.loadedCoreName) disagrees with the Double reference")
        XCTAssertNotNil(BLASBackend.level(ofCore: BLASBackend.loadedCoreName), "unknown kernel set \(BLASBackend.loadedCoreName)")
    }

    func testOneDNNRunsTheFloatProductsByDefault() throws {
        guard case .loaded(let library) = OneDNN.availability else {
            if case .unavailable(let why) = OneDNN.availability { XCTFail("oneDNN is not usable here: \(why)") }
            return
        }
        XCTAssertTrue(library.name.hasPrefix("oneDNN "), library.name)
        XCTAssertFalse(library.instructionSet.isEmpty)
        let request = ProcessInfo.processInfo.environment["ARC_BLAS"] ?? "auto"
        if request.lowercased() == "auto" {
            XCTAssertNotNil(BLASBackend.oneDNN, "ARC_BLAS=auto with oneDNN loaded: \(BLASBackend.matmul.description)")
        }
    }

    func testARCBLASChoosesTheLibrary() {
        let openBLAS = BLASBackend.chooseMatmul(request: "openblas")
        XCTAssertNil(openBLAS.oneDNN)
        XCTAssertTrue(openBLAS.description.hasPrefix("OpenBLAS (ARC_BLAS=openblas"), openBLAS.description)
        let bogus = BLASBackend.chooseMatmul(request: "mkl")
        XCTAssertNil(bogus.oneDNN)
        XCTAssertTrue(bogus.description.contains("ARC_BLAS=mkl is not auto, openblas or onednn"), bogus.description)
        for request in ["auto", "OneDNN"] {
            let choice = BLASBackend.chooseMatmul(request: request)
            XCTAssertEqual(choice.oneDNN != nil, OneDNN.library != nil, "\(request): \(choice.description)")
            if choice.oneDNN != nil { XCTAssertTrue(choice.description.contains("self-check passed"), choice.description) }
        }
    }

    /// Both transposes, odd sizes, leading dimensions wider than the matrices, alpha and beta != 0/1:
    /// oneDNN's products against a Double reference (|error| <= 1e-5 * sum |a b| + 1e-6) and the
    /// padding between rows of C untouched.
    func testOneDNNProductsMatchADoubleReference() throws {
        let library = try XCTUnwrap(OneDNN.library, "oneDNN is not loaded")
        var generator = SplitMix64(seed: 7)
        func random(_ count: Int) -> [Float] { (0..<count).map { _ in Float(generator.nextUnit() * 2 - 1) } }
        for (m, n, k) in [(1, 1, 1), (3, 5, 7), (37, 19, 64), (130, 33, 9), (16, 64, 256)] {
            for transposeA in [false, true] {
                for transposeB in [false, true] {
                    let lda = (transposeA ? m : k) + 3, ldb = (transposeB ? k : n) + 2, ldc = n + 5
                    let a = random((transposeA ? k : m) * lda), b = random((transposeB ? n : k) * ldb)
                    let c0 = random(m * ldc)
                    var c = c0
                    let alpha: Float = 0.75, beta: Float = -0.5
                    let accepted = a.withUnsafeBufferPointer { a in
                        b.withUnsafeBufferPointer { b in
                            c.withUnsafeMutableBufferPointer { c in
                                OneDNN.sgemm(library, transposeA: transposeA, transposeB: transposeB, m: m, n: n, k: k, alpha: alpha,
                                             a: a.baseAddress!, lda: lda, b: b.baseAddress!, ldb: ldb, beta: beta, c: c.baseAddress!, ldc: ldc)
                            }
                        }
                    }
                    let label = "m \(m) n \(n) k \(k) transposeA \(transposeA) transposeB \(transposeB)"
                    XCTAssertTrue(accepted, label)
                    var worst = 0.0
                    for i in 0..<m {
                        for j in 0..<ldc {
                            let got = Double(c[i * ldc + j])
                            guard j < n else {
                                XCTAssertEqual(got, Double(c0[i * ldc + j]), "\(label): padding of C written at (\(i), \(j))")
                                continue
                            }
                            var sum = 0.0, magnitude = 0.0
                            for p in 0..<k {
                                let x = Double(transposeA ? a[p * lda + i] : a[i * lda + p])
                                let y = Double(transposeB ? b[j * ldb + p] : b[p * ldb + j])
                                sum += x * y
                                magnitude += abs(x * y)
                            }
                            let expected = Double(alpha) * sum + Double(beta) * Double(c0[i * ldc + j])
                            worst = max(worst, abs(got - expected) / (1e-5 * (magnitude + abs(Double(c0[i * ldc + j]))) + 1e-6))
                        }
                    }
                    XCTAssertLessThanOrEqual(worst, 1, "\(label): error above 1e-5 of the magnitude (ratio \(worst))")
                }
            }
        }
    }
}
