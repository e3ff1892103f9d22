// swift-tools-version:6.0
// arc-pipeline: ARC-AGI puzzles to a Kaggle submission with the Hierarchical Reasoning Model, on a plain CPU.
// Module map (one-way dependencies): see README.md "Architecture" and docs/DESIGN.md.
import PackageDescription

// Kernels, HRM and ArcBench build with plain -O: with these flags, generic Tensor<Double> metadata
// crashed (swift_allocateGenericClassMetadata / installGenericArguments) when used from the test module.
let optimized: [SwiftSetting] = [.unsafeFlags(["-Ounchecked", "-wmo"], .when(configuration: .release))]

let package = Package(
    name: "arc-pipeline",
    platforms: [.macOS(.v15)],  // Synchronization.Atomic (Kernels/Tensor.swift)
    products: [
        .executable(name: "arc-pipeline", targets: ["ArcPipeline"]),
        .executable(name: "arc-bench", targets: ["ArcBench"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // System libraries (Debian: libcurl4-openssl-dev, libarchive-dev, libopenblas-dev, libssl-dev).
        .systemLibrary(name: "CCurl", pkgConfig: "libcurl", providers: [.apt(["libcurl4-openssl-dev"])]),
        .systemLibrary(name: "CArchive", pkgConfig: "libarchive", providers: [.apt(["libarchive-dev"])]),
        .systemLibrary(name: "CBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
        .systemLibrary(name: "COpenSSL", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

        // Data: task model, loaders, validation, submission model/scorer.
        .target(name: "ARCCore"),
        // Downloads (libcurl) and safe unpacking (libarchive) of the ARC sources.
        .target(name: "ARCFetch", dependencies: ["ARCCore", "CCurl", "CArchive", "COpenSSL"]),
        // Augmentation, sequence codec, dataset builder, .npy I/O.
        .target(name: "ARCAugment", dependencies: ["ARCCore"], swiftSettings: optimized),
        // CPU tensors, BLAS, forward/backward kernels, optimizers.
        .target(name: "Kernels", dependencies: ["CBLAS", "KernelsAVX2", "KernelsAVX512", "KernelsAVX512BF16", "KernelsLanes16"],
                exclude: ["AVX2", "AVX512", "AVX512BF16", "Lanes16"]),
        // Float inner loops compiled for AVX2+FMA; Kernels calls them only after a runtime CPU check.
        .target(name: "KernelsAVX2", path: "Sources/Kernels/AVX2", swiftSettings: [.unsafeFlags(["-target-cpu", "haswell"])]),
        // The attention kernels of KernelsAVX2 at 16 lanes (the same source file, linked), compiled for AVX-512
        // (F, CD, BW, DQ, VL); Kernels calls them only after a runtime CPU check.
        .target(name: "KernelsAVX512", path: "Sources/Kernels/AVX512", swiftSettings: [.unsafeFlags(["-target-cpu", "skylake-avx512"])]),
        // The bf16 attention forward (vdpbf16ps) for CPUs with AVX512_BF16, on KernelsAVX512's 16-lane softmax pieces (linked);
        // Kernels calls it only after a runtime CPU check and a self-check. CAVX512BF16: the instruction as a C inline function.
        .target(name: "CAVX512BF16", path: "Sources/CAVX512BF16"),
        .target(name: "KernelsAVX512BF16", dependencies: ["CAVX512BF16"], path: "Sources/Kernels/AVX512BF16",
                swiftSettings: [.unsafeFlags(["-target-cpu", "cooperlake"])]),
        // The 16-lane and bf16 attention sources again (linked), compiled for AVX2 with vdpbf16ps emulated: the bf16
        // attention of `--precision bf16` on CPUs without bf16 instructions (bf16 numbers, not bf16 speed), and
        // the tests' way to run the AVX-512 code on any AVX2 machine. Kernels calls it only after a runtime CPU check.
        .target(name: "KernelsLanes16", path: "Sources/Kernels/Lanes16", swiftSettings: [.unsafeFlags(["-target-cpu", "haswell"])]),
        // The HRM model: config and presets, parameter arena, inner step with the 1-step gradient, checkpoints.
        .target(name: "HRM", dependencies: ["Kernels", "ARCCore"]),
        // Open MPI 4 (libmpi.so.40) loaded at run time with dlopen: the binary never links MPI.
        .target(name: "CMPI", path: "Sources/CMPI", linkerSettings: [.linkedLibrary("dl")]),
        // Ranks of a data-parallel run (mpirun/mpiexec) and their collectives; one process without MPI.
        .target(name: "Distributed", dependencies: ["CMPI"]),
        // Training: ACT loop, losses' bookkeeping, optimizers, schedule, sampler, checkpoints.
        .target(name: "Training", dependencies: ["HRM", "Kernels", "ARCAugment", "ARCCore", "Distributed"]),
        // Undo augmentation, vote, assemble and score submissions.
        .target(name: "Voting", dependencies: ["ARCCore", "ARCAugment"]),
        // The self-contained HTML report (`arc-pipeline report`): grids, votes, scores, training curves.
        .target(name: "Report", dependencies: ["ARCCore", "Voting"]),

        .executableTarget(
            name: "ArcPipeline",
            dependencies: [
                "ARCCore", "ARCFetch", "ARCAugment", "Kernels", "HRM", "Training", "Voting", "Report", "Distributed",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .executableTarget(name: "ArcBench", dependencies: ["Kernels", "HRM", "ARCAugment", .product(name: "ArgumentParser", package: "swift-argument-parser")]),

        // Helpers shared by the test targets (finite differences, tolerances, the reference's fixtures, the built
        // executable, test folders and the offline mirror, a loopback HTTP server).
        .target(name: "TestHelpers", dependencies: ["Kernels", "KernelsLanes16", "HRM"], path: "Tests/TestHelpers"),

        .testTarget(name: "ARCCoreTests", dependencies: ["ARCCore"]),
        .testTarget(name: "ARCFetchTests", dependencies: ["ARCFetch", "ARCCore", "CArchive", "TestHelpers"]),
        .testTarget(name: "ARCAugmentTests", dependencies: ["ARCAugment", "ARCCore", "ARCFetch", "TestHelpers"]),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "KernelsAVX2", "KernelsAVX512", "KernelsLanes16", "HRM", "TestHelpers"]),
        .testTarget(name: "HRMTests", dependencies: ["HRM", "Kernels", "KernelsLanes16", "TestHelpers"]),
        // Test only: counts heap allocations (the C allocation functions, forwarded to glibc) for StepAllocationTests.
        .target(name: "AllocationCounter", path: "Tests/AllocationCounter"),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "HRM", "Kernels", "ARCCore", "TestHelpers", "AllocationCounter"]),
        .testTarget(name: "VotingTests", dependencies: ["Voting", "ARCAugment", "ARCCore", "TestHelpers"]),
        .testTarget(name: "ReportTests", dependencies: ["Report", "Voting", "ARCCore", "TestHelpers"]),
        // The executable under hostile inputs: bad files, options, archives and outputs.
        .testTarget(name: "ArcPipelineTests", dependencies: ["ARCCore", "ARCAugment", "Kernels", "HRM", "TestHelpers"]),
    ],
    // Numeric kernels share raw buffers across DispatchQueue.concurrentPerform workers, which
    // Swift 6's strict Sendable checking rejects; the v5 language mode keeps those loops plain.
    swiftLanguageModes: [.v5]
)
