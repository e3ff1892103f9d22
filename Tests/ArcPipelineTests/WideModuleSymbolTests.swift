// The modules compiled for newer instruction sets (KernelsAVX2, KernelsAVX512, KernelsAVX512BF16) must not
// leak wide instructions into code that runs on any CPU. Swift emits small shared helpers (the
// `__swift_memcpyN_M` value witnesses of a module's structs, and the like) as weak symbols in every
// module that needs them; the linker keeps one copy, in link order, so a copy compiled for AVX-512 could
// serve the baseline code of another module and crash a CPU without AVX-512. The wide modules therefore
// declare no structs (FlashAttentionLanes.swift's layouts are tuples), and this test checks the outcome
// in the built executable: no `__swift_*` helper uses a ymm / zmm register or an AVX-512 mask.
import Foundation
import TestHelpers
import XCTest

final class WideModuleSymbolTests: XCTestCase {
    func run(_ tool: String, _ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = Pipe()
        try process.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        XCTAssertEqual(process.terminationStatus, 0, "\(tool) \(arguments.joined(separator: " "))")
        return String(decoding: data, as: UTF8.self)
    }

    func testSharedSwiftHelpersUseNoWideRegisters() throws {
        let binary = try PipelineExecutable.url().path
        for tool in ["/usr/bin/nm", "/usr/bin/objdump"] {
            XCTAssertTrue(FileManager.default.isExecutableFile(atPath: tool), "\(tool) (binutils) is needed for this test")
        }
        let symbols = try run("/usr/bin/nm", [binary]).split(separator: "\n").compactMap { line -> String? in
            let parts = line.split(separator: " ")
            guard parts.count == 3, "TtWw".contains(parts[1]), parts[2].hasPrefix("__swift_") else { return nil }
            return String(parts[2])
        }
        XCTAssertTrue(symbols.contains { $0.hasPrefix("__swift_memcpy") }, "expected some __swift_memcpy helpers in \(binary)")
        var wide = [String]()
        for symbol in Set(symbols).sorted() {
            let code = try run("/usr/bin/objdump", ["-d", "--no-show-raw-insn", "--disassemble=\(symbol)", binary])
            XCTAssertTrue(code.contains("<\(symbol)>:"), "objdump found no code for \(symbol)")
            if code.contains("%ymm") || code.contains("%zmm") || code.contains("%k1") || code.contains("{%k") { wide.append(symbol) }
        }
        print("checked \(Set(symbols).count) __swift_* helpers in \(binary)")
        XCTAssertEqual(wide, [], "helpers compiled with wide instructions, which baseline code may call: \(wide)")
    }
}
