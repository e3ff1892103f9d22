// The executable runs the best BLAS kernel set this CPU supports, even when OpenBLAS would pick an
// older one or the environment pins one (OPENBLAS_CORETYPE), and says so in its first lines.
// The expected level is derived here from /proc/cpuinfo, independently of the program's own table.
import Foundation
import TestHelpers
import XCTest

final class BLASKernelSetTests: XCTestCase {
    /// Instruction-set level this CPU supports: 6 AVX-512+BF16, 5 AVX-512, 4 AVX2+FMA, 3 AVX, 1 older.
    func cpuLevel() throws -> Int {
        let text = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let line = try XCTUnwrap(text.split(separator: "\n").first { $0.hasPrefix("flags") })
        let flags = Set(line.split(separator: " ").map(String.init))
        let avx512 = ["avx512f", "avx512bw", "avx512dq", "avx512vl"].allSatisfy(flags.contains)
        if avx512 { return flags.contains("avx512_bf16") ? 6 : 5 }
        if flags.contains("avx2") && flags.contains("fma") { return 4 }
        return flags.contains("avx") ? 3 : 1
    }

    /// Level of an OpenBLAS x86-64 kernel-set name as the library reports it.
    func level(of core: String) -> Int {
        switch core.lowercased() {
        case "cooperlake", "sapphirerapids": return 6
        case "skylakex": return 5
        case "haswell", "zen", "skylake": return 4
        case "sandybridge", "bulldozer", "piledriver", "steamroller", "excavator": return 3
        default: return 1
        }
    }

    func kernelSetInUse(environment extra: [String: String]) throws -> (core: String, output: String) {
        var environment = ProcessInfo.processInfo.environment
        for (key, value) in extra { environment[key] = value }
        let result = try PipelineExecutable.run(["system"], environment: environment)
        XCTAssertEqual(result.status, 0, result.stderr)
        let line = try XCTUnwrap(result.stdout.split(separator: "\n").first { $0.hasPrefix("kernel set in use: ") }, result.stdout)
        return (String(line.dropFirst("kernel set in use: ".count)), result.stdout)
    }

    func testKernelSetIsTheBestTheCPUSupports() throws {
        let expected = try cpuLevel()
        var cases: [[String: String]] = [[:], ["OPENBLAS_CORETYPE": "Prescott"]]
        if let pinned = ProcessInfo.processInfo.environment["OPENBLAS_CORETYPE"] { cases.append(["OPENBLAS_CORETYPE": pinned]) }
        for environment in cases {
            let (core, output) = try kernelSetInUse(environment: environment)
            XCTAssertEqual(level(of: core), expected, "kernel set \(core) with \(environment) on a CPU of level \(expected)\n\(output)")
            XCTAssertTrue(output.contains("self-check passed"), output)
        }
    }

    func testKeepLeavesThePinnedKernelSetAndSaysItIsBelow() throws {
        guard try cpuLevel() > 1 else {
            XCTFail("this CPU has no kernel set above Prescott, so the override cannot be observed")
            return
        }
        let (core, output) = try kernelSetInUse(environment: ["OPENBLAS_CORETYPE": "Prescott", "ARC_BLAS_CORE": "keep"])
        XCTAssertEqual(core, "Prescott", output)
        XCTAssertTrue(output.contains("BELOW the best for this CPU"), output)
    }

    func testTrainPrintsTheKernelSetFirst() throws {
        let result = try PipelineExecutable.run(["train", "--dataset", "/nonexistent-dataset", "--out", "/nonexistent-run"])
        XCTAssertTrue(result.stdout.hasPrefix("BLAS: OpenBLAS"), result.stdout)
    }

    /// The fp32 products run on oneDNN when it is installed (it is on CI), on OpenBLAS when ARC_BLAS
    /// says so, and a wrong ARC_BLAS value is named, not obeyed blindly; train prints the choice.
    func testMatmulLibraryFollowsARCBLAS() throws {
        func library(_ environment: [String: String]) throws -> (String, String) {
            var merged = ProcessInfo.processInfo.environment
            merged["ARC_BLAS"] = nil
            for (key, value) in environment { merged[key] = value }
            let result = try PipelineExecutable.run(["system"], environment: merged)
            XCTAssertEqual(result.status, 0, result.stderr)
            let line = try XCTUnwrap(result.stdout.split(separator: "\n").first { $0.hasPrefix("fp32 matmul library: ") }, result.stdout)
            return (String(line.dropFirst("fp32 matmul library: ".count)), result.stdout)
        }
        let (byDefault, output) = try library([:])
        XCTAssertTrue(byDefault.hasPrefix("oneDNN "), "oneDNN (Debian's libdnnl2) should run the products by default\n\(output)")
        XCTAssertTrue(output.contains("kernels chosen by oneDNN, self-check passed"), output)
        XCTAssertTrue(try library(["ARC_BLAS": "onednn"]).0.hasPrefix("oneDNN "))
        XCTAssertEqual(try library(["ARC_BLAS": "openblas"]).0, "OpenBLAS")
        let (bogus, bogusOutput) = try library(["ARC_BLAS": "mkl"])
        XCTAssertEqual(bogus, "OpenBLAS")
        XCTAssertTrue(bogusOutput.contains("ARC_BLAS=mkl is not auto, openblas or onednn"), bogusOutput)
        let train = try PipelineExecutable.run(["train", "--dataset", "/nonexistent-dataset", "--out", "/nonexistent-run"])
        XCTAssertTrue(train.stdout.contains("fp32 matmuls: oneDNN "), train.stdout)
    }

    /// --precision says what runs in one line: fp32 when asked; bf16 (on oneDNN or emulated) when asked;
    /// auto by this CPU's flags, read here from /proc/cpuinfo.
    func testPrecisionLineFollowsTheOption() throws {
        func line(_ precision: String?) throws -> String {
            let result = try PipelineExecutable.run(["train", "--dataset", "/nonexistent-dataset", "--out", "/nonexistent-run"]
                                                    + (precision.map { ["--precision", $0] } ?? []))
            XCTAssertNotEqual(result.status, 0, "no dataset: the run must fail after the precision line")
            return String(try XCTUnwrap(result.stdout.split(separator: "\n").first { $0.hasPrefix("matmul precision: ") }, result.stdout))
        }
        XCTAssertEqual(try line("fp32"), "matmul precision: fp32 (--precision fp32)")
        let bf16 = try line("bf16")
        XCTAssertTrue(bf16.hasPrefix("matmul precision: bf16 operands, fp32 accumulation"), bf16)
        let text = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flags = Set(try XCTUnwrap(text.split(separator: "\n").first { $0.hasPrefix("flags") }).split(separator: " ").map(String.init))
        let auto = try line(nil)
        XCTAssertEqual(auto, try line("auto"))
        if flags.contains("avx512_bf16") || flags.contains("amx_bf16") {
            XCTAssertTrue(bf16.contains("dnnl_gemm_bf16bf16f32"), "this CPU has bf16 instructions: oneDNN's product, not emulation\n\(bf16)")
            XCTAssertTrue(auto.contains("2048x512x128"), "auto decides by a measured product on this CPU\n\(auto)")
        } else {
            XCTAssertEqual(auto, "matmul precision: fp32 (auto: this CPU has no bf16 matmul instructions, avx512_bf16 / amx_bf16)")
            XCTAssertTrue(bf16.contains("EMULATED"), bf16)
        }
    }
}
