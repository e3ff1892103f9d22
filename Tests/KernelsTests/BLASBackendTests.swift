// The BLAS kernel-set choice: the best OpenBLAS kernel set for a CPU's feature flags, the levels of
// the core names OpenBLAS reports, and the sgemm self-check of the kernel set loaded in this process.
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
}
