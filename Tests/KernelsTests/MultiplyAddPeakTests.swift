// The multiply-add issue limit's loop (Kernels/MultiplyAddPeak.swift) computes its twelve chains: the
// figure arc-bench prints is only a limit if every multiply-add it counts is executed.
import Kernels
import XCTest

final class MultiplyAddPeakTests: XCTestCase {
    func testTheChainsComputeWhatTheyCount() throws {
        let builds = MultiplyAddPeak.builds
        if builds.isEmpty {
            // No vector build may run here: the chains say so instead of executing.
            XCTAssertNil(MultiplyAddPeak.chains(rounds: 1, multiplier: 1, addend: 1, build: .avx2))
            XCTAssertNil(MultiplyAddPeak.chains(rounds: 1, multiplier: 1, addend: 1, build: .avx512))
        }
        for build in builds {
            // c_i -> c_i + 1 each round: chain i ends at i + rounds in every lane (exact in Float).
            let counted = try XCTUnwrap(MultiplyAddPeak.chains(rounds: 1000, multiplier: 1, addend: 1, build: build))
            XCTAssertEqual(counted, Float(build.lanes * (66 + 12 * 1000)), "\(build.name)")
            // c_i -> c_i / 2: after 3 rounds i / 8.
            let halved = try XCTUnwrap(MultiplyAddPeak.chains(rounds: 3, multiplier: 0.5, addend: 0, build: build))
            XCTAssertEqual(halved, Float(build.lanes) * 66 / 8, "\(build.name)")
            XCTAssertEqual(MultiplyAddPeak.chains(rounds: 0, multiplier: 3, addend: 7, build: build), Float(build.lanes * 66))
            XCTAssertEqual(MultiplyAddPeak.flops(rounds: 1000, build: build), Double(24 * build.lanes * 1000))
        }
    }

    func testTheBuildsAreTheOnesThisCPUMayRun() {
        XCTAssertEqual(MultiplyAddPeak.builds.map(\.lanes), (KernelsCPU.hasAVX512 ? [16] : []) + (KernelsCPU.hasAVX2FMA ? [8] : []))
        if !KernelsCPU.hasAVX512 { XCTAssertNil(MultiplyAddPeak.chains(rounds: 1, multiplier: 1, addend: 1, build: .avx512)) }
    }
}
